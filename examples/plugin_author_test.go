package examples_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testbin"
)

// smsToken is the SMS gateway token of the test project; it must never
// show in herald's output.
const smsToken = "sms-token-e2e-91b7c4"

// TestThirdPartyProvider goes the way of a provider's author and users: the
// plugin in examples/smsgateway, a module of its own, passes its tests
// (sdktest.Conformance included) and builds; dropped into a plugin
// directory, the herald binary, which was built without it, lists it,
// validates a project that uses it and runs a workflow that calls it; and
// in debug mode, started by hand, herald attaches to it through
// HERALD_REATTACH_PROVIDERS.
func TestThirdPartyProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests the separate module examples/smsgateway")
	}
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "examples", "smsgateway")

	// The author's side: tests, vet, build.
	out := goCommand(t, src, "test", "./...")
	if !strings.Contains(out, "ok  \texample.com/herald-provider-smsgateway/smsgateway") {
		t.Fatalf("go test in examples/smsgateway did not run the provider's tests:\n%s", out)
	}
	goCommand(t, src, "vet", "./...")
	plugins := t.TempDir()
	plugin := filepath.Join(plugins, "herald-provider-smsgateway")
	goCommand(t, src, "build", "-o", plugin, ".")

	// The user's side: a herald binary and a project using the plugin.
	bin := testbin.Build(t, "github.com/heraldhq/herald/cmd/host")
	herald := filepath.Join(bin, "herald")
	if err := os.Rename(filepath.Join(bin, "host"), herald); err != nil {
		t.Fatal(err)
	}
	api := newSMSAPI(t)
	project := t.TempDir()
	writeProject(t, project, api.url)

	t.Run("installed", func(t *testing.T) {
		env := heraldEnv(t, "HERALD_PLUGIN_PATH="+plugins)

		out, _ := runHerald(t, herald, env, "plugins", "list")
		for _, want := range []string{"smsgateway", "0.1.0", plugin, "send_sms"} {
			if !strings.Contains(out, want) {
				t.Errorf("herald plugins list does not show %q:\n%s", want, out)
			}
		}
		out, _ = runHerald(t, herald, env, "validate", "--dir", project)
		if !strings.Contains(out, "is valid: 1 workflow(s), 1 provider instance(s), 1 step(s)") {
			t.Errorf("herald validate:\n%s", out)
		}

		// The plugin's declarative checks (a sender of at most 11
		// characters, a text of at least one) and its required version are
		// enforced by herald validate, before anything runs.
		bad := t.TempDir()
		writeFile(t, filepath.Join(bad, "sms.hcl"), `required_plugins {
  smsgateway = { version = ">= 0.2" }
}

provider "sms" {
  type   = "smsgateway"
  config = { base_url = "https://sms.example.com", token = "t" }
}

workflow "w" {
  step "text" {
    uses = "sms.send_sms"
    with = { to = "+14155550123", text = "", sender = "ACME Corporation" }
  }
}
`)
		stderr := runHeraldFailing(t, herald, env, "validate", "--dir", bad)
		for _, want := range []string{
			`sms.hcl:2:28: required plugin "smsgateway" is version 0.1.0, which does not satisfy ">= 0.2"`,
			`sms.hcl:13:35: with.text of sms.send_sms: has 0 characters, fewer than the minimum 1`,
			`sms.hcl:13:46: with.sender of sms.send_sms: "ACME Corporation" does not match`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("herald validate does not report %q:\n%s", want, stderr)
			}
		}

		run, _ := runWorkflow(t, herald, env, project, "1.2")
		got := api.requests()
		if len(got) != 1 {
			t.Fatalf("the SMS API received %d requests, want 1: %+v", len(got), got)
		}
		want := smsRequest{
			Method: http.MethodPost, Path: "/messages", Authorization: "Bearer " + smsToken,
			IdempotencyKey: run.RunID + "/text", To: "+14155550123", Text: "Deploy 1.2 is live",
		}
		if got[0] != want {
			t.Errorf("the SMS API received %+v, want %+v", got[0], want)
		}
	})

	t.Run("debug_mode", func(t *testing.T) {
		reattach := startDebugPlugin(t, plugin)
		// No plugin on the search path: herald reaches smsgateway only by
		// attaching to the process started above.
		env := heraldEnv(t, "HERALD_PLUGIN_PATH="+t.TempDir(), "HERALD_REATTACH_PROVIDERS="+reattach, "HERALD_LOG_LEVEL=info")
		before := len(api.requests())
		for _, version := range []string{"2.0-debug", "2.1-debug"} {
			_, logs := runWorkflow(t, herald, env, project, version)
			if !strings.Contains(logs, "attached to plugin in debug mode") {
				t.Errorf("herald did not attach to the plugin in debug mode; its log:\n%s", logs)
			}
		}
		got := api.requests()[before:]
		if len(got) != 2 || got[0].Text != "Deploy 2.0-debug is live" || got[1].Text != "Deploy 2.1-debug is live" {
			t.Errorf("through the plugin in debug mode, the SMS API received %+v; want both runs' messages (the plugin outlives each herald)", got)
		}
	})
}

// goCommand runs the go command in dir as a plugin author would, with the
// module's go.mod and go.sum as they are committed, and returns its output.
func goCommand(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(withoutEnv("GOFLAGS", "GOWORK"), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s\n(when Herald's dependencies changed, run `go mod tidy` in examples/smsgateway)", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// withoutEnv returns the environment without the named variables.
func withoutEnv(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if prefix, ok := strings.CutSuffix(n, "*"); name == n || (ok && strings.HasPrefix(name, prefix)) {
				drop = true
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return env
}

// heraldEnv is the environment of the herald commands: none of the
// caller's HERALD_ variables, a home without plugins, the gateway token as
// a secret, and extra.
func heraldEnv(t *testing.T, extra ...string) []string {
	env := append(withoutEnv("HERALD_*", "HOME"), "HOME="+t.TempDir(), "HERALD_SECRET_SMS_TOKEN="+smsToken)
	return append(env, extra...)
}

// runHerald runs the herald binary and returns its stdout and stderr; it
// fails the test when herald exits non-zero or shows the token.
func runHerald(t *testing.T, herald string, env []string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, herald, args...)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	stdout, stderr = out.String(), errOut.String()
	if err != nil {
		t.Fatalf("herald %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, smsToken) {
		t.Errorf("herald %s shows the gateway token:\n%s\n%s", strings.Join(args, " "), stdout, stderr)
	}
	return stdout, stderr
}

// runHeraldFailing runs the herald binary, which must exit non-zero, and
// returns its stderr.
func runHeraldFailing(t *testing.T, herald string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(herald, args...)
	cmd.Env = env
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Run(); err == nil {
		t.Fatalf("herald %s succeeded, want a failure", strings.Join(args, " "))
	}
	return errOut.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runView is the part of `herald run --output json` the test reads.
type runView struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	Steps  []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Output struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"output"`
	} `json:"steps"`
}

// runWorkflow runs deploy-sms for version and checks that it succeeded
// with the gateway's answer as the step's output. It returns the run and
// herald's log.
func runWorkflow(t *testing.T, herald string, env []string, project, version string) (runView, string) {
	t.Helper()
	input := fmt.Sprintf(`{"phone": "+14155550123", "version": %q}`, version)
	out, logs := runHerald(t, herald, env, "run", "deploy-sms", "--dir", project, "--input", input, "--output", "json")
	var run runView
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("herald run --output json printed no run object: %v\n%s", err, out)
	}
	if run.Status != "succeeded" || len(run.Steps) != 1 || run.Steps[0].Status != "succeeded" ||
		!strings.HasPrefix(run.Steps[0].Output.ID, "msg-") || run.Steps[0].Output.Status != "queued" {
		t.Fatalf("herald run: want a succeeded run whose step text output the gateway's message id and status:\n%s", out)
	}
	return run, logs
}

// writeProject writes a project using smsgateway against the API at url.
func writeProject(t *testing.T, dir, url string) {
	t.Helper()
	hcl := fmt.Sprintf(`provider "sms" {
  type   = "smsgateway"
  config = { base_url = %q, token = "{{ secrets.SMS_TOKEN }}" }
}

workflow "deploy-sms" {
  step "text" {
    uses = "sms.send_sms"
    with = { to = "{{ trigger.body.phone }}", text = "Deploy {{ trigger.body.version }} is live" }
  }
}
`, url)
	if err := os.WriteFile(filepath.Join(dir, "sms.hcl"), []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startDebugPlugin starts the plugin with --debug, as an author does under
// a debugger, and returns the HERALD_REATTACH_PROVIDERS value it prints.
// The process is killed when the test ends.
func startDebugPlugin(t *testing.T, plugin string) string {
	t.Helper()
	cmd := exec.Command(plugin, "--debug")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	const prefix = "export HERALD_REATTACH_PROVIDERS='"
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), prefix); ok {
				found <- strings.TrimSuffix(v, "'")
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case v := <-found:
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(v), &m); err != nil || m["smsgateway"] == nil {
			t.Fatalf("the plugin printed HERALD_REATTACH_PROVIDERS=%s, not a JSON object naming smsgateway (%v)", v, err)
		}
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("the plugin in debug mode printed no %s... line; stderr:\n%s", prefix, stderr.String())
		return ""
	}
}

// smsRequest is what the fake SMS API recorded of one request.
type smsRequest struct {
	Method, Path, Authorization, IdempotencyKey string
	To, Text                                    string
}

// smsAPI is a fake of the SMS gateway API: it records every request and
// answers 201 {"id": "msg-N", "status": "queued"}.
type smsAPI struct {
	url  string
	mu   sync.Mutex
	reqs []smsRequest
}

func newSMSAPI(t *testing.T) *smsAPI {
	a := &smsAPI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ To, Text string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		a.mu.Lock()
		a.reqs = append(a.reqs, smsRequest{
			Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
			IdempotencyKey: r.Header.Get("Idempotency-Key"), To: body.To, Text: body.Text,
		})
		id := fmt.Sprintf("msg-%d", len(a.reqs))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "status": "queued"})
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func (a *smsAPI) requests() []smsRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]smsRequest(nil), a.reqs...)
}

// lockedBuffer collects a process's stderr for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
