package sdk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// sender posts its input text with the call's idempotency key through
// sdk.HTTP, as the bundled providers do.
type sender struct{ http *sdk.HTTP }

func (p *sender) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type: "sender", Version: "0.1.0",
		Config: sdk.Fields(sdk.String("api_url", "").AsRequired()),
		Actions: []sdk.Action{{
			Name:   "send",
			Input:  sdk.Fields(sdk.String("text", "").AsRequired()),
			Output: sdk.Schema{AdditionalFields: true},
			Run: func(ctx context.Context, call *sdk.Call) (any, error) {
				_, err := p.http.Do(ctx, call, sdk.Request{
					Method: http.MethodPost,
					URL:    call.Config.String("api_url") + "/send",
					Header: http.Header{"Idempotency-Key": {call.IdempotencyKey}},
					Body:   map[string]any{"text": call.Input["text"]},
				})
				return map[string]any{}, err
			},
		}},
	}
}

// sendOverGRPC invokes sender's send with text against apiURL through the
// real plugin transport and returns the classified error.
func sendOverGRPC(t *testing.T, timeout time.Duration, apiURL, text string) *sdk.Error {
	t.Helper()
	client := sdktest.Serve(t, &sender{http: sdk.NewHTTP(timeout)})
	cfg, _ := json.Marshal(map[string]any{"api_url": apiURL})
	require.NoError(t, client.Configure(context.Background(), "main", cfg))
	input, _ := json.Marshal(map[string]any{"text": text})
	_, err := client.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "send", Input: input, IdempotencyKey: "run-1/step/0", Attempt: 1})
	return sdk.AsError(err)
}

// rawServer serves HTTP/1.1 by hand so a test controls the connection: answer
// decides, per request body, whether to answer 200 (true) or drop the
// connection after reading the whole request (false). It records every body
// it read and the idempotency keys they carried.
type rawServer struct {
	ln     net.Listener
	answer func(body string) bool
	mu     sync.Mutex
	bodies []string
	keys   []string
}

func newRawServer(t *testing.T, answer func(body string) bool) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &rawServer{ln: ln, answer: answer}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *rawServer) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.keys = append(s.keys, req.Header.Get("Idempotency-Key"))
		s.mu.Unlock()
		if !s.answer(string(b)) {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, not a polite close
			}
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	}
}

func (s *rawServer) count(body string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.bodies {
		if b == body {
			n++
		}
	}
	return n
}

func TestHTTPSendClassificationOverGRPC(t *testing.T) {
	t.Parallel()
	t.Run("refused_before_write_is_retryable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		e := sendOverGRPC(t, 5*time.Second, "http://"+addr, "hi")
		require.Equal(t, sdk.ClassRetryable, e.Class, e.Message)
		require.Contains(t, e.Message, "connection refused")
	})
	t.Run("reset_after_write_is_in_doubt", func(t *testing.T) {
		t.Parallel()
		srv := newRawServer(t, func(string) bool { return false })
		e := sendOverGRPC(t, 5*time.Second, "http://"+srv.ln.Addr().String(), `hi`)
		require.Equal(t, sdk.ClassInDoubt, e.Class, e.Message)
		require.Equal(t, 1, srv.count(`{"text":"hi"}`))
	})
	t.Run("timeout_after_write_is_in_doubt", func(t *testing.T) {
		t.Parallel()
		srv := stallingServer(t)
		e := sendOverGRPC(t, 300*time.Millisecond, srv.URL, "hi")
		require.Equal(t, sdk.ClassInDoubt, e.Class, e.Message)
		require.Contains(t, e.Message, "timeout")
	})
	t.Run("host_deadline_after_write_is_the_plugins_in_doubt", func(t *testing.T) {
		t.Parallel()
		// The host's deadline, not the HTTP client's, cuts the call short:
		// the plugin still answers first, with its own classification.
		srv := stallingServer(t)
		client := sdktest.Serve(t, &sender{http: sdk.NewHTTP(time.Minute)})
		cfg, _ := json.Marshal(map[string]any{"api_url": srv.URL})
		require.NoError(t, client.Configure(context.Background(), "main", cfg))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := client.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{"text":"hi"}`), Attempt: 1})
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassInDoubt, e.Class, e.Message)
		require.Contains(t, e.Message, "POST ", "the plugin's own error, not the host's deadline")
		require.NoError(t, ctx.Err(), "the answer came before the host's deadline")
	})
	t.Run("5xx_is_retryable_not_in_doubt", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}))
		t.Cleanup(srv.Close)
		e := sendOverGRPC(t, 5*time.Second, srv.URL, "hi")
		require.Equal(t, sdk.ClassRetryable, e.Class, e.Message)
		require.Equal(t, http.StatusBadGateway, e.StatusCode)
	})
}

// stallingServer reads each request whole and never answers, until the
// client gives up or the test ends.
func stallingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	return srv
}

// TestHTTPNeverResendsOnReusedConnection is the trap of SPEC §9: net/http
// re-sends a written POST carrying an Idempotency-Key header by itself when
// the reused keep-alive connection it went out on fails. The provider took
// the first copy, so that re-send is a duplicate.
func TestHTTPNeverResendsOnReusedConnection(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(body string) bool { return body == `{"text":"first"}` })
	client := sdktest.Serve(t, &sender{http: sdk.NewHTTP(5 * time.Second)})
	cfg, _ := json.Marshal(map[string]any{"api_url": "http://" + srv.ln.Addr().String()})
	require.NoError(t, client.Configure(context.Background(), "main", cfg))
	send := func(text string) error {
		input, _ := json.Marshal(map[string]any{"text": text})
		_, err := client.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "send", Input: input, IdempotencyKey: "key-" + text, Attempt: 1})
		return err
	}
	require.NoError(t, send("first")) // leaves an idle keep-alive connection
	err := send("second")             // reuses it; the server takes the body and drops the connection
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "%v", err)
	require.Equal(t, 1, srv.count(`{"text":"second"}`), "net/http re-sent the request on its own")
	srv.mu.Lock()
	defer srv.mu.Unlock()
	require.Equal(t, []string{"key-first", "key-second"}, srv.keys, "the provider still reads the idempotency key")
}
