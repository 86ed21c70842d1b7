package secrets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/sandbox"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/internal/testfigures"
)

// secrets are the project's secrets, by name. Together they hold every
// character class that encodes differently somewhere: quotes, backslashes,
// <, > and &, non-ASCII letters and symbols, spaces and a tab, and the
// characters URLs escape (? & = # % + /).
var secrets = map[string]string{
	"CHATAPI_TOKEN": `tok"en\<&>ü✓ ?&=#%+/x`,
	"CCL_KEY":       "ccl 'key'\t\"<b>\" & \\n é",
	"HOOK_SECRET":   `hook\"<&>é#%20?=+`,
	"EXTRA":         `xtr a+/=?&#%41 "é"<>\u0041`,
}

// apiToken guards /api/*; it is not one of the project's secrets.
const apiToken = "leak-test-api-token-0123456789"

// forms returns every encoding of s the test looks for: raw, Go-quoted
// (strconv.Quote and QuoteToASCII, without the quotes), JSON with and
// without HTML escaping, HTML-escaped, URL query- and path-escaped, and the
// first half of the raw and JSON forms (a secret cut short by truncation).
// They are computed here with the standard library, independently of the
// masker under test.
func forms(s string) map[string]string {
	jsonHTML, _ := json.Marshal(s)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	jsonPlain := strings.TrimSuffix(b.String(), "\n")
	inner := func(q string) string { return q[1 : len(q)-1] }
	half := func(f string) string { return f[:max(8, len(f)/2)] }
	out := map[string]string{
		"raw":          s,
		"%q":           inner(strconv.Quote(s)),
		"%+q":          inner(strconv.QuoteToASCII(s)),
		"json":         inner(string(jsonHTML)),
		"json-no-html": inner(jsonPlain),
		"html":         html.EscapeString(s),
		"query":        url.QueryEscape(s),
		"path":         url.PathEscape(s),
	}
	out["raw-half"] = half(s)
	out["json-half"] = half(inner(string(jsonHTML)))
	return out
}

// output is one piece of what Herald wrote, with where it came from.
type output struct {
	where string
	data  []byte
}

// collector gathers everything Herald writes.
type collector struct {
	mu   sync.Mutex
	outs []output
}

func (c *collector) add(where string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outs = append(c.outs, output{where: where, data: append([]byte(nil), data...)})
}

// shows reports whether an output whose label starts with prefix holds text.
func (c *collector) shows(prefix, text string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.outs {
		if strings.HasPrefix(o.where, prefix) && bytes.Contains(o.data, []byte(text)) {
			return true
		}
	}
	return false
}

// addFiles adds every file under dir.
func (c *collector) addFiles(t *testing.T, label, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		c.add(label+":"+rel, data)
		return nil
	}))
}

// TestNoSecretLeaks drives Herald through every path that has leaked a
// secret and requires that none of its output holds any secret in any
// encoding.
func TestNoSecretLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts herald processes; skipped with -short")
	}
	w := newWorld(t)

	// 1. Validation errors that quote a secret: config values that fail
	// the plugins' schema checks (patterns, types).
	w.validate(t)

	// 2. Dry runs: the rendered requests carry the token in the URL and the
	// key in a header.
	w.cli(t, "dry-run text", 0, "run", "echo", "--dir", w.dir, "--dry-run")
	w.cli(t, "dry-run json", 0, "run", "echo", "--dir", w.dir, "--dry-run", "--output", "json")
	w.cli(t, "dry-run with input", 0, "run", "manual", "--dir", w.dir, "--dry-run", "--output", "json",
		"--input", mustJSON(map[string]any{"text": secrets["EXTRA"], "nested": map[string]any{"k": secrets["CHATAPI_TOKEN"]}}))

	// 3. A real run in the foreground whose provider answers with the
	// token echoed at the truncation boundary.
	w.fault(sandbox.Fault{Provider: "chatapi", Status: 400, Count: 1,
		Body: strings.Repeat("e", 292) + " " + secrets["CHATAPI_TOKEN"] + " is not valid"})
	w.cli(t, "run with provider error", 1, "run", "echo", "--dir", w.dir)

	// 4. herald serve, with JSON logs.
	srv := w.serve(t)

	// Provider errors: each fault answers one request, echoing a secret in
	// a different encoding and position.
	token, key := secrets["CHATAPI_TOKEN"], secrets["CCL_KEY"]
	jsonToken := string(mustMarshal(token))
	providerFaults := []sandbox.Fault{
		{Provider: "chatapi", Status: 400, Body: strings.Repeat("p", 292) + " " + token},
		{Provider: "chatapi", Status: 422, Body: `{"errors":{"detail":"` + strings.Repeat("j", 280) + " " + jsonToken[1:len(jsonToken)-1] + `"}}`},
		{Provider: "chatapi", Status: 401, Body: `{"error":` + strconv.Quote("invalid token "+strconv.Quote(token)) + `}`},
		{Provider: "chatapi", Status: 403, Body: `{"error":"token ` + strings.ReplaceAll(jsonToken[1:len(jsonToken)-1], "/", `\/`) + ` revoked"}`},
		{Provider: "chatapi", Status: 200, Body: "<html>" + strings.Repeat("h", 190) + token + "</html>"},
		{Provider: "chitchatlabs", Status: 403, Body: `{"message":` + string(mustMarshal("bad key "+key)) + `}`},
		{Provider: "chitchatlabs", Status: 400, Body: strings.Repeat("k", 295) + key},
	}
	var runIDs []string
	for _, f := range providerFaults {
		w.sb.Sandbox.Reset()
		f.Count = 1
		w.fault(f)
		id := srv.startRun(t, "echo", map[string]any{"note": "fault"})
		srv.waitRun(t, id)
		runIDs = append(runIDs, id)
	}
	w.sb.Sandbox.Reset()

	// Webhooks carrying the secrets in headers, the query and the body,
	// JSON and form-encoded, signed with the webhook secret.
	for i, s := range []string{secrets["EXTRA"], token, key} {
		body := mustJSON(map[string]any{"text": s, "password": s, "list": []any{"a " + s}, s: "as a key"})
		id := srv.hook(t, "leak", url.Values{"q": {s}, "access_token": {s}}, "application/json", body,
			map[string]string{"X-Echo": headerSafe(s), "X-Api-Key": headerSafe(s), "Authorization": "Bearer " + headerSafe(s)})
		srv.waitRun(t, id)
		runIDs = append(runIDs, id)
		form := url.Values{"text": {s}, "n": {strconv.Itoa(i)}}.Encode()
		id = srv.hook(t, "leak", url.Values{"q": {s}}, "application/x-www-form-urlencoded", form, map[string]string{"Cookie": "s=" + url.QueryEscape(s)})
		srv.waitRun(t, id)
		runIDs = append(runIDs, id)
	}
	// A hook path and a bad signature that quote the secret back.
	srv.request(t, "unknown hook", "POST", "/hooks/"+url.PathEscape(token), nil, "{}", nil)
	srv.request(t, "bad signature", "POST", "/hooks/leak?token="+url.QueryEscape(token), nil, "{}",
		map[string]string{httpapi.SignatureHeader: "sha256=" + url.QueryEscape(token)})

	// Manual runs through the API with the secrets in the input.
	for _, s := range secrets {
		id := srv.startRun(t, "manual", map[string]any{"text": s, "deep": map[string]any{"list": []any{s}}})
		srv.waitRun(t, id)
		runIDs = append(runIDs, id)
	}

	// Everything the API shows of those runs, and the rest of its surface.
	for _, id := range runIDs {
		srv.request(t, "run "+id, "GET", "/api/v1/runs/"+id, nil, "", nil)
	}
	srv.request(t, "run list", "GET", "/api/v1/runs?limit=100", nil, "", nil)
	srv.request(t, "workflows", "GET", "/api/v1/workflows", nil, "", nil)
	srv.request(t, "metrics", "GET", "/metrics", nil, "", nil)
	srv.request(t, "readyz", "GET", "/readyz", nil, "", nil)
	srv.request(t, "healthz", "GET", "/healthz", nil, "", nil)

	// The operator console: log in with the token, then every page a
	// person can open, each run's timeline included.
	consolePages := []string{"/ui/", "/ui/runs", "/ui/schedule", "/ui/plugins"}
	for _, wf := range []string{"echo", "leak", "manual"} {
		consolePages = append(consolePages, "/ui/workflows/"+wf)
	}
	for _, id := range runIDs {
		consolePages = append(consolePages, "/ui/runs/"+id)
	}
	srv.console(t, consolePages)

	// The store while the server runs (its WAL still holds the recent
	// writes), then again after a clean shutdown.
	w.out.addFiles(t, "store (serving)", w.storeDir)
	srv.stop(t)
	w.out.addFiles(t, "store (stopped)", w.storeDir)

	// The CLI's view of the same runs.
	w.cli(t, "runs list", 0, "runs", "list", "--dir", w.dir)
	for _, id := range runIDs[:3] {
		w.cli(t, "runs show "+id, -1, "runs", "show", id, "--dir", w.dir, "--output", "json")
		w.cli(t, "runs show text "+id, -1, "runs", "show", id, "--dir", w.dir)
	}
	w.out.addFiles(t, "store (final)", w.storeDir)
	w.out.addFiles(t, "project dir", w.dir)

	w.search(t)
	// Each path was driven: its output shows the masked secret.
	for _, label := range []string{
		"validate bad stderr", "dry-run json stdout", "dry-run with input stdout",
		"run with provider error", "API run " + runIDs[0], "API run " + runIDs[len(providerFaults)],
		"API run " + runIDs[len(runIDs)-1], "API unknown hook", "serve stderr",
	} {
		require.True(t, w.out.shows(label, "***"), "no output labelled %q shows ***: the path was not driven", label)
	}
}

// world is the test's project, binaries, sandbox and collected output.
type world struct {
	bin      string
	plugins  string
	dir      string
	storeDir string
	sb       *sandboxproviders.Sandbox
	sbURL    string
	out      *collector
}

func newWorld(t *testing.T) *world {
	t.Helper()
	bins := testbin.Build(t, "github.com/heraldhq/herald/cmd/host",
		"github.com/heraldhq/herald/plugins/chatapi", "github.com/heraldhq/herald/plugins/chitchatlabs")
	require.NoError(t, os.Rename(filepath.Join(bins, "host"), filepath.Join(bins, "herald")))
	for _, p := range []string{"chatapi", "chitchatlabs"} {
		require.NoError(t, os.Rename(filepath.Join(bins, p), filepath.Join(bins, "herald-provider-"+p)))
	}
	w := &world{bin: filepath.Join(bins, "herald"), plugins: bins, dir: t.TempDir(), storeDir: t.TempDir(), out: &collector{}}
	w.sb = sandboxproviders.New()
	w.sb.ChatAPI.Token = secrets["CHATAPI_TOKEN"]
	w.sb.ChitChatLabs.APIKey = secrets["CCL_KEY"]
	sb := httptest.NewServer(w.sb)
	t.Cleanup(sb.Close)
	w.sbURL = sb.URL
	project := fmt.Sprintf(`
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.CHATAPI_TOKEN }}", api_url = "%[1]s/chatapi" }
}
provider "chitchatlabs" {
  config = { api_key = "{{ secrets.CCL_KEY }}", base_url = "%[1]s/chitchatlabs" }
}

workflow "echo" {
  step "chatapi" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "token {{ secrets.CHATAPI_TOKEN }} extra {{ secrets.EXTRA }}" }
  }
  step "ccl" {
    uses = "chitchatlabs.send_single"
    with = { to = { mobile = "14155550123", name = "{{ secrets.EXTRA }}" }, fb_template = "t", language = "en" }
  }
}

workflow "leak" {
  trigger "webhook" {
    path      = "leak"
    secret    = "{{ secrets.HOOK_SECRET }}"
    sensitive = ["body.password"]
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.text }} {{ trigger.headers['x-echo'] }} {{ trigger.query.q }}" }
  }
}

workflow "manual" {
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.text }} {{ secrets.HOOK_SECRET }}" }
  }
}
`, w.sbURL)
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "project.hcl"), []byte(project), 0o644))
	return w
}

// env is the environment every herald process gets.
func (w *world) env(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.storeDir,
		"HERALD_PLUGIN_PATH=" + w.plugins,
		"HERALD_STORE=sqlite://" + filepath.Join(w.storeDir, "herald.db"),
		"HERALD_API_TOKEN=" + apiToken,
		"HERALD_LOG_LEVEL=debug",
	}
	for name, v := range secrets {
		env = append(env, "HERALD_SECRET_"+name+"="+v)
	}
	return append(env, extra...)
}

// cli runs herald with args, collects its stdout and stderr, and checks its
// exit code (unless want is -1).
func (w *world) cli(t *testing.T, label string, want int, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err, label)
	}
	w.out.add(label+" stdout", stdout.Bytes())
	w.out.add(label+" stderr", stderr.Bytes())
	if want >= 0 {
		require.Equal(t, want, code, "%s: exit code\nstdout:\n%s\nstderr:\n%s", label, stdout.String(), stderr.String())
	}
}

// validate loads projects whose config values, read from secrets, fail the
// plugins' checks, so the errors quote them.
func (w *world) validate(t *testing.T) {
	t.Helper()
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "bad.hcl"), []byte(`
provider "chatapi" {
  config = { instance_id = "{{ secrets.EXTRA }}", token = "{{ secrets.CHATAPI_TOKEN }}", api_url = "{{ secrets.CCL_KEY }}" }
}
provider "chitchatlabs" {
  config = { api_key = "{{ secrets.CCL_KEY }}", base_url = "{{ secrets.HOOK_SECRET }}" }
}
workflow "w" {
  trigger "webhook" {
    path   = "w"
    secret = "{{ secrets.HOOK_SECRET }}"
  }
  step "a" {
    uses = "chatapi.send_message"
    with = { phone = "1", body = "{{ secrets.CHATAPI_TOKEN }}" }
  }
}
`), 0o644))
	w.cli(t, "validate bad", 1, "validate", "--dir", bad)
	w.cli(t, "run bad", 2, "run", "w", "--dir", bad)
	w.cli(t, "validate good", 0, "validate", "--dir", w.dir)
}

// fault adds a fault to the sandbox.
func (w *world) fault(f sandbox.Fault) { w.sb.AddFault(f) }

// server is a running `herald serve`.
type server struct {
	w    *world
	cmd  *exec.Cmd
	base string
	done chan struct{}
	mu   sync.Mutex
	// stdout and stderr are what the process wrote.
	stdout, stderr bytes.Buffer
}

func (w *world) serve(t *testing.T) *server {
	t.Helper()
	s := &server{w: w, done: make(chan struct{})}
	s.cmd = exec.Command(w.bin, "serve", "--dir", w.dir, "--listen", "127.0.0.1:0")
	s.cmd.Env = w.env("HERALD_LOG_FORMAT=json")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := s.cmd.StdoutPipe()
	require.NoError(t, err)
	s.cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	require.NoError(t, s.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stdout.WriteString(line + "\n")
			s.mu.Unlock()
			if a, ok := strings.CutPrefix(line, "herald serve: listening on http://"); ok {
				addr <- a
			}
		}
	}()
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	})
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.done:
		t.Fatalf("herald serve exited before it listened:\n%s", s.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("herald serve did not listen within a minute:\n%s", s.stderr.String())
	}
	return s
}

// stop sends SIGTERM, waits for the exit and collects stdout and stderr.
func (s *server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		t.Fatal("herald serve did not stop within a minute of SIGTERM")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.out.add("serve stdout", s.stdout.Bytes())
	s.w.out.add("serve stderr (JSON logs)", s.stderr.Bytes())
}

// request sends a request and collects the response's status line,
// headers and body.
func (s *server) request(t *testing.T, label, method, path string, query url.Values, body string, header map[string]string) []byte {
	t.Helper()
	target := s.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+apiToken)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, label)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s\n", resp.Status)
	_ = resp.Header.Write(&head)
	s.w.out.add("API "+label, append(head.Bytes(), data...))
	if resp.StatusCode >= 500 {
		t.Errorf("%s: %s: %s", label, resp.Status, data)
	}
	return data
}

// console logs in to the operator console with the API token and
// collects every page of paths, status line, headers and HTML.
func (s *server) console(t *testing.T, paths []string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	resp, err := client.PostForm(s.base+"/ui/login", url.Values{"token": {apiToken}, "next": {"/ui/"}})
	require.NoError(t, err)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "console login: %s", data)
	s.w.out.add("console login", data)
	for _, p := range paths {
		resp, err := client.Get(s.base + p)
		require.NoError(t, err, p)
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "console %s: %s", p, data)
		require.NotContains(t, string(data), `name="token"`, "console %s: the login did not hold", p)
		var head bytes.Buffer
		fmt.Fprintf(&head, "%s\n", resp.Status)
		_ = resp.Header.Write(&head)
		s.w.out.add("console "+p, append(head.Bytes(), data...))
	}
}

// startRun starts a manual run through the API and returns its id.
func (s *server) startRun(t *testing.T, workflow string, input any) string {
	t.Helper()
	data := s.request(t, "start "+workflow, "POST", "/api/v1/workflows/"+workflow+"/runs", nil, mustJSON(input),
		map[string]string{"Content-Type": "application/json"})
	var r struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal(data, &r), string(data))
	require.NotEmpty(t, r.RunID, string(data))
	return r.RunID
}

// hook posts a signed webhook and returns the run it started.
func (s *server) hook(t *testing.T, path string, query url.Values, contentType, body string, header map[string]string) string {
	t.Helper()
	h := map[string]string{"Content-Type": contentType, httpapi.SignatureHeader: httpapi.Sign(secrets["HOOK_SECRET"], []byte(body))}
	for k, v := range header {
		h[k] = v
	}
	data := s.request(t, "hook "+path, "POST", "/hooks/"+path, query, body, h)
	var r struct {
		RunIDs []string `json:"run_ids"`
	}
	require.NoError(t, json.Unmarshal(data, &r), string(data))
	require.Len(t, r.RunIDs, 1, string(data))
	return r.RunIDs[0]
}

// waitRun waits until a run has ended.
func (s *server) waitRun(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", s.base+"/api/v1/runs/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var r struct {
			Status string `json:"status"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		switch r.Status {
		case "succeeded", "failed", "skipped":
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s did not end within a minute", id)
}

// search looks for every form of every secret in everything collected and
// requires no hit. It prints what it scanned.
func (w *world) search(t *testing.T) {
	t.Helper()
	type needle struct{ name, form, text string }
	var needles []needle
	for name, s := range secrets {
		seen := map[string]bool{}
		for form, text := range forms(s) {
			if !seen[text] {
				seen[text] = true
				needles = append(needles, needle{name, form, text})
			}
		}
	}
	sort.Slice(needles, func(i, j int) bool { return needles[i].name+needles[i].form < needles[j].name+needles[j].form })
	var scanned int64
	var hits []string
	for _, o := range w.out.outs {
		scanned += int64(len(o.data))
		for _, n := range needles {
			if c := bytes.Count(o.data, []byte(n.text)); c > 0 {
				i := bytes.Index(o.data, []byte(n.text))
				lo, hi := max(0, i-80), min(len(o.data), i+len(n.text)+80)
				hits = append(hits, fmt.Sprintf("%s: %d × %s of %s (%q) in …%s…", o.where, c, n.form, n.name, n.text, o.data[lo:hi]))
			}
		}
	}
	testfigures.Report(t, fmt.Sprintf("secret-leak search: %d bytes scanned in %d outputs, %d secrets in %d forms: %d hits",
		scanned, len(w.out.outs), len(secrets), len(needles), len(hits)))
	for _, h := range hits {
		t.Error(h)
	}
	// The search found what it was looking at: outputs of every kind.
	require.Greater(t, scanned, int64(100_000), "too little output to search: did the drive run?")
}

// headerSafe returns s as a header value can carry it: without control
// characters other than tab.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustJSON(v any) string { return string(mustMarshal(v)) }

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
