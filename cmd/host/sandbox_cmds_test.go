package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// sandboxCmds are the testscript commands that drive an in-process sandbox:
//
//	sandbox                  start one; $SANDBOX_URL is its base URL
//	envsubst FILE...         replace $VAR and ${VAR} in files with the script's env
//	fault JSON               add a fault (see internal/sandbox.Fault)
//	clearfaults              remove every fault
//	requests [PROVIDER]      print the recorded requests, one per line:
//	                         METHOD PATH[?QUERY] [BODY as compact JSON]
//	clearrequests            forget the recorded requests
//	jsonpath FILE PATH WANT  the JSON value at a dotted path (list indexes as
//	                         numbers) formats as WANT (stdout/stderr as FILE)
//	jsonkeys FILE PATH KEYS  the object at PATH ("" or a dotted path) has
//	                         these keys
func sandboxCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	sandboxes := map[*testscript.TestScript]*sandboxproviders.Sandbox{}
	get := func(ts *testscript.TestScript) *sandboxproviders.Sandbox {
		sb := sandboxes[ts]
		if sb == nil {
			ts.Fatalf("no sandbox: run the sandbox command first")
		}
		return sb
	}
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"sandbox": func(ts *testscript.TestScript, neg bool, args []string) {
			sb := sandboxproviders.New()
			srv := httptest.NewServer(sb)
			ts.Defer(srv.Close)
			sandboxes[ts] = sb
			ts.Defer(func() { delete(sandboxes, ts) })
			ts.Setenv("SANDBOX_URL", srv.URL)
		},
		"envsubst": func(ts *testscript.TestScript, neg bool, args []string) {
			for _, name := range args {
				path := ts.MkAbs(name)
				data, err := os.ReadFile(path)
				ts.Check(err)
				out := os.Expand(string(data), ts.Getenv)
				ts.Check(os.WriteFile(path, []byte(out), 0o644))
			}
		},
		"fault": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: fault JSON")
			}
			resp, err := http.Post(ts.Getenv("SANDBOX_URL")+"/_sandbox/faults", "application/json", strings.NewReader(args[0]))
			ts.Check(err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				ts.Fatalf("fault: HTTP %d", resp.StatusCode)
			}
		},
		"clearfaults": func(ts *testscript.TestScript, neg bool, args []string) {
			sandboxDelete(ts, "/_sandbox/faults")
		},
		"clearrequests": func(ts *testscript.TestScript, neg bool, args []string) {
			sandboxDelete(ts, "/_sandbox/requests")
		},
		"requests": func(ts *testscript.TestScript, neg bool, args []string) {
			provider := ""
			if len(args) > 0 {
				provider = args[0]
			}
			var b strings.Builder
			for _, r := range get(ts).Requests(provider) {
				line := r.Method + " " + r.Path
				if len(r.Query) > 0 {
					keys := make([]string, 0, len(r.Query))
					for k := range r.Query {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					var q []string
					for _, k := range keys {
						for _, v := range r.Query[k] {
							q = append(q, k+"="+v)
						}
					}
					line += "?" + strings.Join(q, "&")
				}
				if len(r.Body) > 0 {
					var buf bytes.Buffer
					var v any
					if json.Unmarshal(r.Body, &v) == nil {
						enc := json.NewEncoder(&buf)
						enc.SetEscapeHTML(false)
						_ = enc.Encode(v)
						line += " " + strings.TrimSpace(buf.String())
					}
				}
				b.WriteString(line + "\n")
			}
			_, err := ts.Stdout().Write([]byte(b.String()))
			ts.Check(err)
		},
		"jsonpath": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 3 {
				ts.Fatalf("usage: jsonpath FILE PATH WANT")
			}
			got := fmt.Sprint(formatJSON(jsonAt(ts, args[0], args[1])))
			if (got == args[2]) == neg {
				ts.Fatalf("%s at %s is %s, want %s%s", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
			}
		},
		"jsonkeys": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) < 2 {
				ts.Fatalf("usage: jsonkeys FILE PATH KEYS...")
			}
			path := args[1]
			keys := args[2:]
			if !strings.Contains(path, ".") && path != "" && !isNumber(path) {
				// "jsonkeys stdout a b c" checks top-level keys.
				path, keys = "", args[1:]
			}
			m, ok := jsonAt(ts, args[0], path).(map[string]any)
			if !ok {
				ts.Fatalf("%s at %q is not an object", args[0], path)
			}
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					ts.Fatalf("%s at %q has no key %q", args[0], path, k)
				}
			}
		},
	}
}

func sandboxDelete(ts *testscript.TestScript, path string) {
	req, err := http.NewRequest(http.MethodDelete, ts.Getenv("SANDBOX_URL")+path, nil)
	ts.Check(err)
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	resp.Body.Close()
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// jsonAt reads file (or the last command's stdout/stderr) as JSON and
// returns the value at a dotted path.
func jsonAt(ts *testscript.TestScript, file, path string) any {
	data := ts.ReadFile(file)
	var v any
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	ts.Check(dec.Decode(&v))
	if path == "" {
		return v
	}
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			val, ok := x[part]
			if !ok {
				ts.Fatalf("%s: no key %q in path %s", file, part, path)
			}
			v = val
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("%s: bad index %q in path %s (list of %d)", file, part, path, len(x))
			}
			v = x[i]
		default:
			ts.Fatalf("%s: %q in path %s is not in an object or list", file, part, path)
		}
	}
	return v
}

func formatJSON(v any) any {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return v
}
