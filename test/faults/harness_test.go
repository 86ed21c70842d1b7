package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/pgtest"
	chatwootfake "github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	cclfake "github.com/heraldhq/herald/internal/providers/chitchatlabs/fake"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testbin"
)

// Store modes the tests run in.
const (
	modePostgres = "postgres"
	modeSQLite   = "sqlite"
)

// env is one test's world: a herald binary, the sandbox, a project
// directory and a store, and the replicas started on them.
type env struct {
	t     *testing.T
	mode  string
	bin   string
	dir   string
	dsn   string
	sb    *sandboxproviders.Sandbox
	sbURL string
	// extra is added to every replica's environment.
	extra []string
	// slow counts the sandbox requests that took 2 s or more to answer.
	slow atomic.Int64

	mu       sync.Mutex
	replicas []*replica
	st       store.Store
}

// newEnv builds herald and the chatapi plugin, starts the sandbox and makes
// a store: a fresh PostgreSQL schema (skipping t without one) or a SQLite
// file.
func newEnv(t *testing.T, mode string) *env {
	t.Helper()
	return newEnvLocked(t, mode, false)
}

// newEnvLocked is newEnv for a test that holds the exclusive PostgreSQL
// lock (it restarts the server) when exclusive is set.
func newEnvLocked(t *testing.T, mode string, exclusive bool) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("fault tests start herald processes; skipped with -short")
	}
	e := &env{t: t, mode: mode, dir: t.TempDir()}
	switch mode {
	case modePostgres:
		var dsn string
		if exclusive {
			_, dsn = pgtest.NewSchema(t)
		} else {
			_, dsn = pgtest.Schema(t)
		}
		e.dsn = dsn + "&pool_max_conns=8"
	case modeSQLite:
		e.dsn = "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
	}
	plugins := []string{"chatapi", "chatwoot", "chitchatlabs"}
	pkgs := []string{"github.com/heraldhq/herald/cmd/host"}
	for _, p := range plugins {
		pkgs = append(pkgs, "github.com/heraldhq/herald/plugins/"+p)
	}
	dir := testbin.Build(t, pkgs...)
	require.NoError(t, os.Rename(filepath.Join(dir, "host"), filepath.Join(dir, "herald")))
	for _, p := range plugins {
		require.NoError(t, os.Rename(filepath.Join(dir, p), filepath.Join(dir, "herald-provider-"+p)))
	}
	e.bin = filepath.Join(dir, "herald")
	e.sb = sandboxproviders.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e.sb.ServeHTTP(w, r)
		if time.Since(start) >= 2*time.Second {
			e.slow.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	e.sbURL = srv.URL
	t.Cleanup(func() {
		// Replicas first, then the store the test opened.
		e.mu.Lock()
		rs := e.replicas
		e.mu.Unlock()
		for _, r := range rs {
			r.kill()
		}
		if t.Failed() {
			for _, r := range rs {
				t.Logf("last log lines of %s:\n%s", r.name, r.tail(40))
			}
		}
		if e.st != nil {
			_ = e.st.Close()
		}
	})
	return e
}

// project writes the provider instance "chatapi", and "chatwoot" and
// "chitchatlabs" when hcl uses them (each pointing at the sandbox's fake),
// and the given HCL to the project directory.
func (e *env) project(hcl string) {
	e.t.Helper()
	providers := fmt.Sprintf(`provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.TOKEN }}", api_url = "%s/chatapi" }
}
`, e.sbURL)
	if strings.Contains(hcl, "chatwoot.") {
		providers += fmt.Sprintf(`provider "chatwoot" {
  config = { base_url = "%s/chatwoot", account_id = %d, inbox_id = %d, api_access_token = "%s" }
}
`, e.sbURL, chatwootfake.DefaultAccountID, chatwootfake.DefaultInboxID, chatwootfake.DefaultToken)
	}
	if strings.Contains(hcl, "chitchatlabs.") {
		providers += fmt.Sprintf(`provider "chitchatlabs" {
  config = { api_key = "%s", base_url = "%s/chitchatlabs" }
}
`, cclfake.DefaultAPIKey, e.sbURL)
	}
	require.NoError(e.t, os.WriteFile(filepath.Join(e.dir, "providers.hcl"), []byte(providers), 0o644))
	require.NoError(e.t, os.WriteFile(filepath.Join(e.dir, "workflows.hcl"), []byte(hcl), 0o644))
}

// eachMode runs test as a parallel subtest in each store mode.
func eachMode(t *testing.T, test func(t *testing.T, mode string)) {
	t.Helper()
	for _, mode := range []string{modePostgres, modeSQLite} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			test(t, mode)
		})
	}
}

// startReplicas starts one replica on SQLite, or n on PostgreSQL (named
// r1, r2, …), and returns them.
func (e *env) startReplicas(n int) []*replica {
	e.t.Helper()
	if e.mode != modePostgres {
		n = 1
	}
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = e.start(fmt.Sprintf("r%d", i+1))
	}
	return rs
}

// replica is one `herald serve` process.
type replica struct {
	name string
	cmd  *exec.Cmd
	addr string
	logf string
	done chan struct{}
}

// start starts a replica named name and waits until it listens.
func (e *env) start(name string) *replica {
	e.t.Helper()
	r := &replica{name: name, logf: filepath.Join(e.t.TempDir(), name+".log"), done: make(chan struct{})}
	logFile, err := os.OpenFile(r.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(e.t, err)
	r.cmd = exec.Command(e.bin, "serve", "--dir", e.dir, "--listen", "127.0.0.1:0")
	r.cmd.Env = append(os.Environ(),
		"HERALD_STORE="+e.dsn,
		"HERALD_SECRET_TOKEN=sandbox-token",
		"HERALD_PLUGIN_PATH=",
		"HERALD_LOG_LEVEL=info",
	)
	r.cmd.Env = append(r.cmd.Env, e.extra...)
	r.cmd.Stderr = logFile
	stdout, err := r.cmd.StdoutPipe()
	require.NoError(e.t, err)
	// Its own process group, so kill takes its plugins down with it.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(e.t, r.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "herald serve: listening on http://"); ok {
				addr <- a
			}
			fmt.Fprintln(logFile, line)
		}
	}()
	go func() {
		_ = r.cmd.Wait()
		_ = logFile.Close()
		close(r.done)
	}()
	select {
	case r.addr = <-addr:
	case <-r.done:
		e.t.Fatalf("%s exited before it listened:\n%s", name, r.tail(40))
	case <-time.After(60 * time.Second):
		e.t.Fatalf("%s did not listen within a minute:\n%s", name, r.tail(40))
	}
	e.mu.Lock()
	e.replicas = append(e.replicas, r)
	e.mu.Unlock()
	return r
}

// pid returns the replica's process id.
func (r *replica) pid() int { return r.cmd.Process.Pid }

// kill sends SIGKILL to the replica and its plugins and waits for it.
func (r *replica) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = syscall.Kill(-r.pid(), syscall.SIGKILL)
	<-r.done
}

// stop sends SIGTERM and waits up to a minute for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Errorf("%s did not stop within a minute of SIGTERM", r.name)
		r.kill()
	}
}

// tail returns the last n lines of the replica's log.
func (r *replica) tail(n int) string {
	data, _ := os.ReadFile(r.logf)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logCount counts the replica's log lines that contain s.
func (r *replica) logCount(s string) int {
	data, _ := os.ReadFile(r.logf)
	return bytes.Count(data, []byte(s))
}

// post sends a JSON body to the replica and returns the status and body;
// a request that fails returns status 0 and the error's text. It is safe
// to call from any goroutine.
func (r *replica) post(t *testing.T, path string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+path, bytes.NewReader(data))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// hook triggers the webhook at path with body and returns the run's ID.
func (r *replica) hook(t *testing.T, path string, body any, key string) string {
	t.Helper()
	header := map[string]string{}
	if key != "" {
		header["Idempotency-Key"] = key
	}
	status, out := r.post(t, "/hooks/"+path, body, header)
	require.Equal(t, http.StatusAccepted, status, "%s", out)
	var res struct {
		RunIDs []string `json:"run_ids"`
	}
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	require.Len(t, res.RunIDs, 1, "%s", out)
	return res.RunIDs[0]
}

// store opens the test's own handle on the replicas' store.
func (e *env) store() store.Store {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st == nil {
		st, err := host.OpenStore(context.Background(), e.dsn)
		require.NoError(e.t, err)
		e.st = st
	}
	return e.st
}

// waitRuns waits until every run of ids has ended and returns them. Store
// errors are retried until the deadline: the database may be restarting.
func (e *env) waitRuns(d time.Duration, ids ...string) []store.Run {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		runs, done := make([]store.Run, len(ids)), true
		var lastErr error
		for i, id := range ids {
			r, err := e.store().GetRun(context.Background(), id)
			if err != nil {
				lastErr, done = err, false
				break
			}
			runs[i] = r
			done = done && r.Status.Final()
		}
		if done {
			return runs
		}
		if time.Now().After(deadline) {
			unfinished := 0
			for _, r := range runs {
				if !r.Status.Final() {
					unfinished++
				}
			}
			e.t.Fatalf("%d of %d runs still unfinished after %s (last store error: %v)", unfinished, len(ids), d, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownerPID returns the process id in a run's owner ("host/pid"), 0 when
// it has none.
func ownerPID(owner string) int {
	_, p, _ := strings.Cut(owner, "/")
	n, _ := strconv.Atoi(p)
	return n
}

// phones returns n distinct phone numbers.
func phones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("1415%07d", i)
	}
	return out
}

// deliveries counts, per phone, the sandbox's successful sends and all
// sends.
func deliveries(t *testing.T, sb *sandboxproviders.Sandbox) (ok, all map[string]int) {
	t.Helper()
	ok, all = map[string]int{}, map[string]int{}
	for _, r := range sb.Requests("chatapi") {
		var body struct {
			Phone string `json:"phone"`
		}
		if json.Unmarshal(r.Body, &body) != nil || body.Phone == "" {
			continue
		}
		all[body.Phone]++
		if r.Status == http.StatusOK {
			ok[body.Phone]++
		}
	}
	return ok, all
}

// waitFor polls cond until it holds, failing t after d.
// lostAndDuplicates counts, over the expected phones, those the sandbox never
// answered successfully (ok) and the extra sends among all requests (all).
func lostAndDuplicates(expected []string, ok, all map[string]int) (lost, duplicates int) {
	for _, p := range expected {
		if ok[p] == 0 {
			lost++
		}
		if all[p] > 1 {
			duplicates += all[p] - 1
		}
	}
	return lost, duplicates
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jsonUnmarshal decodes s into v.
func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
