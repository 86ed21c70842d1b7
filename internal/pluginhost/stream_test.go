package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/sdk"
)

// protocol1 builds the Echo plugin once per test process, limited to
// protocol 1 as plugins built before protocol 2 are (it serves no invoke
// stream and negotiates version 1).
var protocol1 struct {
	once sync.Once
	path string
	err  error
}

// buildProtocol1 returns a fresh directory holding the protocol-1-only Echo
// plugin as herald-provider-echo.
func buildProtocol1(t testing.TB) string {
	t.Helper()
	protocol1.once.Do(func() {
		root, err := testbin.ModuleRoot()
		if err != nil {
			protocol1.err = err
			return
		}
		sum := sha256.Sum256([]byte(root))
		cache := filepath.Join(os.TempDir(), "herald-testbin-"+hex.EncodeToString(sum[:6]))
		if protocol1.err = os.MkdirAll(cache, 0o700); protocol1.err != nil {
			return
		}
		tmp := filepath.Join(cache, "herald-provider-echo-protocol1.tmp"+strconv.Itoa(os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp,
			"-ldflags", "-X github.com/heraldhq/herald/sdk.servedProtocols=1", echoPkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			protocol1.err = fmt.Errorf("go build %s: %v\n%s", echoPkg, err, out)
			return
		}
		protocol1.path = filepath.Join(cache, "herald-provider-echo-protocol1")
		protocol1.err = os.Rename(tmp, protocol1.path)
	})
	if protocol1.err != nil {
		t.Fatal(protocol1.err)
	}
	dir := t.TempDir()
	raw, err := os.ReadFile(protocol1.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "herald-provider-echo"), raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// setupMain is setup with the echo plugin's instance "main" configured.
func setupMain(t *testing.T) (*fixture, sdk.Client) {
	t.Helper()
	f := setup(t, Options{})
	c := f.client(t)
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	return f, c
}

// negotiated returns the protocol version the host settled on with typ's
// running plugin.
func negotiated(t *testing.T, h *Host, typ string) int {
	t.Helper()
	p, err := h.provider(typ)
	require.NoError(t, err)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotNil(t, p.cur, "provider %s is not running", typ)
	return p.cur.protocol
}

// blockingAPI is an echo API whose requests block until the client gives
// up on them: it records when a request arrived and when its context ended,
// which is how a test sees that a plugin's call was cancelled.
type blockingAPI struct {
	srv      *httptest.Server
	arrived  chan struct{}
	released chan time.Time
}

func newBlockingAPI(t *testing.T) *blockingAPI {
	a := &blockingAPI{arrived: make(chan struct{}, 16), released: make(chan time.Time, 16)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a closed connection only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		a.arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			a.released <- time.Now()
		case <-time.After(time.Minute):
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// configureSend configures instance "api" of the echo plugin to send to a.
func (a *blockingAPI) configureSend(t *testing.T, c sdk.Client) {
	t.Helper()
	require.NoError(t, c.Configure(context.Background(), "api", json.RawMessage(`{"api_url":"`+a.srv.URL+`"}`)))
}

// waitArrived waits for the plugin's request to reach the API.
func (a *blockingAPI) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-a.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the plugin's request never reached the API")
	}
}

// waitReleased waits for the plugin to abandon its request and returns when
// it did.
func (a *blockingAPI) waitReleased(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-a.released:
		return at
	case <-time.After(20 * time.Second):
		t.Fatal("the plugin did not abandon its request: the call's cancellation did not reach it")
		return time.Time{}
	}
}

func TestStreamCallsRunConcurrentlyAndASlowCallDelaysNoOther(t *testing.T) {
	t.Parallel()
	f, c := setupMain(t)
	ctx := context.Background()
	require.Equal(t, 2, negotiated(t, f.host, "echo"))

	// A call that takes a minute is in flight for the whole test.
	slowCtx, cancelSlow := context.WithCancel(ctx)
	defer cancelSlow()
	slow := make(chan error, 1)
	go func() { _, err := invoke(slowCtx, c, "main", "sleep", `{"ms": 60000}`); slow <- err }()
	require.Eventually(t, func() bool { _, ok := f.logs.find("sleeping"); return ok }, 20*time.Second, 10*time.Millisecond)

	// 200 calls of 500 ms each, all at once: one after another they would
	// take 100 s; multiplexed on the stream they take about 500 ms.
	const n = 200
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := invoke(ctx, c, "main", "sleep", `{"ms": 500}`)
			if err == nil && out["slept_ms"] != float64(500) {
				err = fmt.Errorf("unexpected output %v", out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	elapsed := time.Since(start)
	require.Less(t, elapsed, 20*time.Second, "calls in flight together must not run one after another")
	t.Logf("%d concurrent 500 ms calls beside a 60 s call took %s", n, elapsed.Round(time.Millisecond))

	// A quick call still answers at once while the slow one runs.
	start = time.Now()
	out, err := invoke(ctx, c, "main", "echo", `{"x": 1}`)
	require.NoError(t, err)
	require.Equal(t, float64(1), out["x"])
	require.Less(t, time.Since(start), 5*time.Second)

	select {
	case err := <-slow:
		t.Fatalf("the slow call ended early: %v", err)
	default:
	}
	cancelSlow()
	select {
	case err := <-slow:
		require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class)
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled slow call did not return")
	}
}

func TestStreamCancellationReachesThePlugin(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	c, api := f.client(t), newBlockingAPI(t)
	api.configureSend(t, c)
	require.Equal(t, 2, negotiated(t, f.host, "echo"))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := invoke(ctx, c, "api", "send", `{"message":"hi"}`); done <- err }()
	api.waitArrived(t)
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "%v", err)
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled call did not return")
	}
	released := api.waitReleased(t)
	t.Logf("the plugin abandoned its request %s after the host cancelled the call", released.Sub(cancelled).Round(time.Microsecond))

	// The stream carries on: the next call on it succeeds.
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	require.Equal(t, float64(1), count(t, c, "main"))
}

func TestStreamDeadlineReachesThePlugin(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	c, api := f.client(t), newBlockingAPI(t)
	api.configureSend(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := invoke(ctx, c, "api", "send", `{"message":"hi"}`)
	require.Error(t, err)
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "%v", err)
	// The plugin's copy of the deadline may end the call first; then its
	// error, not the host's, comes back, as with a unary call.
	require.Contains(t, err.Error(), "deadline exceeded")
	require.Less(t, time.Since(start), 15*time.Second)
	api.waitArrived(t)
	api.waitReleased(t)
}

func TestStreamPluginCrashFailsEveryCallInFlight(t *testing.T) {
	t.Parallel()
	f, c := setupMain(t)
	ctx := context.Background()
	require.Equal(t, float64(1), count(t, c, "main"))
	pid := f.host.Pid("echo")

	const n = 5
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { _, err := invoke(ctx, c, "main", "sleep", `{"ms": 60000}`); errs <- err }()
	}
	require.Eventually(t, func() bool { return f.logs.count("sleeping") == n }, 20*time.Second, 10*time.Millisecond)
	_, err := invoke(ctx, c, "main", "crash", `{}`)
	require.Error(t, err)
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "%v", err)
			require.Contains(t, err.Error(), "provider echo: plugin process "+strconv.Itoa(pid)+" exited during the call")
		case <-time.After(20 * time.Second):
			t.Fatal("a call in flight did not return after the plugin crashed")
		}
	}
	// The next call reaches a relaunched plugin over a new stream.
	require.Equal(t, float64(1), count(t, c, "main"))
	require.NotEqual(t, pid, f.host.Pid("echo"))
	require.Equal(t, 2, negotiated(t, f.host, "echo"))
}

func TestProtocol1PluginKeepsWorking(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Paths: []string{buildProtocol1(t)}})
	ctx := context.Background()
	infos, err := f.host.Discover(ctx)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.Equal(t, 1, infos[0].Protocol, "a plugin that serves protocol 1 only negotiates 1")

	c := f.client(t)
	require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))
	out, err := invoke(ctx, c, "main", "echo", `{"n": 12345678901234567}`)
	require.NoError(t, err)
	require.Equal(t, float64(12345678901234567), out["n"])
	_, err = invoke(ctx, c, "main", "fail", `{"class":"permanent","message":"bad phone","field":"to"}`)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class, "%v", err)
	require.Equal(t, "to", sdk.AsError(err).Field)

	api := newBlockingAPI(t)
	api.configureSend(t, c)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := invoke(cctx, c, "api", "send", `{"message":"hi"}`); done <- err }()
	api.waitArrived(t)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	api.waitReleased(t)

	pid := f.host.Pid("echo")
	_, err = invoke(ctx, c, "main", "crash", `{}`)
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "%v", err)
	require.Contains(t, err.Error(), "provider echo: plugin process "+strconv.Itoa(pid)+" exited during the call")
	require.Equal(t, float64(1), count(t, c, "main"))
	require.Equal(t, 1, negotiated(t, f.host, "echo"))
}

// count returns how many log entries have message msg.
func (s *logSink) count(msg string) int {
	n := 0
	for _, e := range s.entries() {
		if e["@message"] == msg {
			n++
		}
	}
	return n
}
