package sdk

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingTripper counts the requests h1Transport leaves to net/http.
type countingTripper struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(req)
}

// directHTTP returns NewHTTP's HTTP with its fallback counted.
func directHTTP(t *testing.T, timeout time.Duration) (*HTTP, *http.Transport, *countingTripper) {
	t.Helper()
	h := NewHTTP(timeout)
	base := h.Client.Transport.(*http.Transport)
	fb := &countingTripper{next: base}
	h.direct.fallback = fb
	t.Cleanup(h.Client.CloseIdleConnections)
	return h, base, fb
}

// netHTTP returns an HTTP with the same settings that sends through
// net/http only.
func netHTTP(timeout time.Duration) *HTTP {
	h := NewHTTP(timeout)
	h.Client = &http.Client{Timeout: timeout, Transport: h.Client.Transport}
	return h
}

// connCounter counts the connections a test server accepted.
func connCounter(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestH1KeepsConnectionsAlive(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"echo":` + string(b) + `,"proto":"` + r.Proto + `"}`))
	}))
	conns := connCounter(srv)
	srv.Start()
	t.Cleanup(srv.Close)
	h, _, fb := directHTTP(t, 5*time.Second)
	for i := range 5 {
		resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodPost, URL: srv.URL + "/send", Body: map[string]any{"i": i}})
		require.NoError(t, err)
		var out struct {
			Echo  map[string]int
			Proto string
		}
		require.NoError(t, resp.JSON(&out))
		require.Equal(t, i, out.Echo["i"])
		require.Equal(t, "HTTP/1.1", out.Proto)
	}
	require.Zero(t, fb.n.Load(), "every request went through the direct transport")
	require.EqualValues(t, 1, conns.Load(), "one kept-alive connection")
}

func TestH1TLS(t *testing.T) {
	t.Parallel()
	var sawTLS atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS.Store(r.TLS != nil && r.ProtoMajor == 1)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	conns := connCounter(srv)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h, base, fb := directHTTP(t, 5*time.Second)
	for range 3 {
		resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodGet, URL: srv.URL})
		e := AsError(err)
		require.NotNil(t, e, "the server's certificate is not trusted yet")
		require.Equal(t, ClassRetryable, e.Class)
		require.Nil(t, resp)
	}
	base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	for range 3 {
		resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodPost, URL: srv.URL, Body: map[string]any{}})
		require.NoError(t, err)
		require.JSONEq(t, `{"ok":true}`, string(resp.Body))
	}
	require.True(t, sawTLS.Load())
	require.Zero(t, fb.n.Load())
	require.EqualValues(t, 4, conns.Load(), "three refused handshakes, then one kept-alive connection")
}

// TestH1HTTP2OnlyServerFallsBack checks that a TLS server refusing
// HTTP/1.1 in ALPN is left to net/http, which speaks HTTP/2 to it, and that
// the next request to it goes there directly.
func TestH1HTTP2OnlyServerFallsBack(t *testing.T) {
	t.Parallel()
	var refused atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"proto":"` + r.Proto + `"}`))
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(hello.SupportedProtos, "h2") {
			return nil, nil
		}
		refused.Add(1)
		cfg := srv.TLS.Clone()
		cfg.GetConfigForClient = nil
		cfg.NextProtos = []string{"h2-only"}
		return cfg, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h, base, fb := directHTTP(t, 5*time.Second)
	base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	for i := range 2 {
		resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodPost, URL: srv.URL, Body: map[string]any{}})
		require.NoError(t, err)
		require.JSONEq(t, `{"proto":"HTTP/2.0"}`, string(resp.Body))
		require.EqualValues(t, i+1, fb.n.Load())
	}
	require.EqualValues(t, 1, refused.Load(), "the refusal is remembered")
}

func TestH1ProxyFallsBack(t *testing.T) {
	t.Parallel()
	var proxied atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(r.RequestURI)
		_, _ = w.Write([]byte(`{"via":"proxy"}`))
	}))
	t.Cleanup(proxy.Close)
	h, base, fb := directHTTP(t, 5*time.Second)
	base.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }
	resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodPost, URL: "http://provider.invalid/send", Body: map[string]any{}})
	require.NoError(t, err)
	require.JSONEq(t, `{"via":"proxy"}`, string(resp.Body))
	require.Equal(t, "http://provider.invalid/send", proxied.Load())
	require.EqualValues(t, 1, fb.n.Load())

	// The environment's proxy settings are read the same way.
	base.Proxy = http.ProxyFromEnvironment
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	t.Cleanup(srv.Close)
	_, err = h.Do(context.Background(), nil, Request{Method: http.MethodGet, URL: srv.URL})
	require.NoError(t, err)
	require.EqualValues(t, 1, fb.n.Load(), "no proxy applies to a loopback address")
}

// closingServer answers each request on a connection once, without
// Connection: close, then closes the connection and reports it.
func closingServer(t *testing.T) (target string, closed <-chan struct{}, bodies func() []string) {
	t.Helper()
	ch := make(chan struct{}, 16)
	var mu sync.Mutex
	var got []string
	target = newRawH1Server(t, func(conn net.Conn, br *bufio.Reader) {
		defer func() { ch <- struct{}{} }()
		defer conn.Close()
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	})
	return target, ch, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

// TestH1IdleConnectionClosedByServer is the case net/http's background
// reader catches: a kept-alive connection the server closed while it sat
// idle must not take a POST, which would then be in doubt.
func TestH1IdleConnectionClosedByServer(t *testing.T) {
	t.Parallel()
	target, closed, bodies := closingServer(t)
	h, _, fb := directHTTP(t, 5*time.Second)
	for i := range 3 {
		_, err := h.Do(context.Background(), nil, Request{Method: http.MethodPost, URL: target + "/send", Body: map[string]any{"i": i}})
		require.NoError(t, err, "send %d", i)
		<-closed
		time.Sleep(10 * time.Millisecond) // the FIN reaches the client's socket
	}
	require.Equal(t, []string{`{"i":0}`, `{"i":1}`, `{"i":2}`}, bodies())
	require.Zero(t, fb.n.Load())
}

// TestH1DroppedGetIsSentAgain checks net/http's rule for a GET written on a
// kept-alive connection the server drops without answering: it goes again
// on a new connection.
func TestH1DroppedGetIsSentAgain(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := newRawH1Server(t, func(conn net.Conn, br *bufio.Reader) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			if n.Add(1) == 2 {
				return // drop the second request unanswered
			}
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}
	})
	h, _, _ := directHTTP(t, 5*time.Second)
	for range 2 {
		_, err := h.Do(context.Background(), nil, Request{Method: http.MethodGet, URL: srv})
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, n.Load())
}

// newRawH1Server serves each connection with serve and returns its URL.
func newRawH1Server(t *testing.T, serve func(conn net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serve(conn, bufio.NewReader(conn))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestH1HangingServerHitsTheDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	h, _, fb := directHTTP(t, time.Minute)
	for _, tc := range []struct {
		method string
		class  ErrorClass
	}{{http.MethodPost, ClassInDoubt}, {http.MethodGet, ClassRetryable}} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		_, err := h.Do(ctx, nil, Request{Method: tc.method, URL: srv.URL})
		cancel()
		e := AsError(err)
		require.NotNil(t, e)
		require.Equal(t, tc.class, e.Class, e.Message)
		require.Contains(t, e.Message, "timeout")
		require.Less(t, time.Since(start), 5*time.Second)
	}
	// The client's own timeout, without a deadline on the call.
	h, _, _ = directHTTP(t, 200*time.Millisecond)
	_, err := h.Do(context.Background(), nil, Request{Method: http.MethodPost, URL: srv.URL, Body: map[string]any{}})
	e := AsError(err)
	require.Equal(t, ClassInDoubt, e.Class, e.Message)
	require.Contains(t, e.Message, "timeout")
	require.Zero(t, fb.n.Load())
}

func TestH1CancelMidBody(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte(`{"partial":`))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
		close(gone)
	}))
	t.Cleanup(srv.Close)
	h, _, _ := directHTTP(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err := h.Do(ctx, nil, Request{Method: http.MethodPost, URL: srv.URL, Body: map[string]any{}})
	e := AsError(err)
	require.NotNil(t, e)
	require.Equal(t, ClassInDoubt, e.Class, e.Message)
	require.Contains(t, e.Message, "context canceled")
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
}

// TestH1CancelMidWrite checks that a request the server does not read is
// cut short by its context, and stays retryable: it was not fully written.
func TestH1CancelMidWrite(t *testing.T) {
	t.Parallel()
	accepted := make(chan struct{})
	srv := newRawH1Server(t, func(conn net.Conn, br *bufio.Reader) {
		close(accepted)
		time.Sleep(10 * time.Second)
	})
	h, _, _ := directHTTP(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	var canceled atomic.Int64
	go func() {
		<-accepted
		time.Sleep(200 * time.Millisecond)
		canceled.Store(time.Now().UnixNano())
		cancel()
	}()
	// Far more than the socket buffers hold while the server reads nothing.
	body := json.RawMessage(`"` + strings.Repeat("x", 16<<20) + `"`)
	_, err := h.Do(ctx, nil, Request{Method: http.MethodPost, URL: srv, Body: body})
	e := AsError(err)
	require.NotNil(t, e)
	require.Equal(t, ClassRetryable, e.Class, e.Message)
	require.Contains(t, e.Message, "context canceled")
	require.NotZero(t, canceled.Load(), "the write was under way when the context ended")
	require.Less(t, time.Since(time.Unix(0, canceled.Load())), 5*time.Second)
}

func TestH1Gzip(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			_, _ = w.Write([]byte(`{"gzip":false}`))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(`{"gzip":true}`))
		_ = zw.Close()
	}))
	t.Cleanup(srv.Close)
	h, _, fb := directHTTP(t, 5*time.Second)
	for range 2 {
		resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodGet, URL: srv.URL})
		require.NoError(t, err)
		require.JSONEq(t, `{"gzip":true}`, string(resp.Body))
		require.Empty(t, resp.Header.Get("Content-Encoding"))
	}
	resp, err := h.Do(context.Background(), nil, Request{Method: http.MethodGet, URL: srv.URL, Header: http.Header{"Accept-Encoding": {"identity"}}})
	require.NoError(t, err)
	require.JSONEq(t, `{"gzip":false}`, string(resp.Body))
	require.Zero(t, fb.n.Load())
}

// rawExchange is one canned answer of TestH1SameAsNetHTTP, written whole
// after the request was read; the server then closes the connection.
type rawExchange struct {
	name, answer string
}

// TestH1SameAsNetHTTP is the differential test: the same requests against
// the same raw answers give the same bytes on the wire, the same response
// (status, header, body) or the same error class through the direct
// transport as through net/http alone.
func TestH1SameAsNetHTTP(t *testing.T) {
	t.Parallel()
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.String()
	}
	exchanges := []rawExchange{
		{name: "content_length", answer: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"ok\"\r\n6\r\n:true}\r\n0\r\n\r\n"},
		{name: "chunked_trailer", answer: "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\n{}\r\n0\r\nX-Sum: 1\r\n\r\n"},
		{name: "until_close", answer: "HTTP/1.1 200 OK\r\n\r\n{\"ok\":1}"},
		{name: "connection_close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "http10", answer: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "no_content", answer: "HTTP/1.1 204 No Content\r\n\r\n"},
		{name: "continue_then_ok", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "many_1xx", answer: strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "gzip", answer: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz(`{"z":1}`))) + "\r\n\r\n" + gz(`{"z":1}`)},
		{name: "bad_gzip", answer: "HTTP/1.1 200 OK\r\nContent-Encoding: GZIP\r\nContent-Length: 4\r\n\r\nnope"},
		{name: "rate_limited", answer: "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 19\r\n\r\n{\"error\":\"slow it\"}"},
		{name: "server_error", answer: "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"},
		{name: "truncated_body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"ok\""},
		{name: "truncated_header", answer: "HTTP/1.1 200 OK\r\nContent-Len"},
		{name: "garbage", answer: "SSH-2.0-OpenSSH\r\n\r\n"},
		{name: "nothing", answer: ""},
		{name: "bad_chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{name: "switching", answer: "HTTP/1.1 101 Switching Protocols\r\n\r\n"},
	}
	requests := []Request{
		{Method: http.MethodPost, URL: "/send?b=2&a=1", Header: http.Header{"Authorization": {"Bearer t"}, "Idempotency-Key": {"k-1"}, "X-Multi": {"b", " a "}}, Body: map[string]any{"text": "hé"}},
		{Method: http.MethodGet, URL: "/get", Query: map[string][]string{"q": {"a b"}}},
		{Method: http.MethodDelete, URL: "/thing/1"},
		{Method: http.MethodPut, URL: "/thing/1", Header: http.Header{"User-Agent": {"custom/1"}, "Content-Type": {"text/plain"}}, Body: "x"},
		{Method: http.MethodPatch, URL: "/thing/1", Header: http.Header{"Accept-Encoding": {"br"}}},
		{Method: http.MethodHead, URL: "/head"},
	}
	for _, ex := range exchanges {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			for _, req := range requests {
				direct, wireDirect := rawRoundTrip(t, ex, req, func(timeout time.Duration) *HTTP { h, _, _ := directHTTP(t, timeout); return h })
				std, wireStd := rawRoundTrip(t, ex, req, netHTTP)
				require.Equal(t, wireStd, wireDirect, "%s %s: the request on the wire", req.Method, req.URL)
				require.Equal(t, std, direct, "%s %s", req.Method, req.URL)
			}
		})
	}
}

// rawOutcome is what a caller of Do sees of one exchange.
type rawOutcome struct {
	Status int
	Header http.Header
	Body   string
	Class  ErrorClass
}

// rawRoundTrip sends req once to a server answering ex, through the HTTP
// newHTTP makes, and returns the outcome and the request bytes the server
// read (its first request line and header).
func rawRoundTrip(t *testing.T, ex rawExchange, req Request, newHTTP func(time.Duration) *HTTP) (rawOutcome, string) {
	t.Helper()
	wire := make(chan string, 1)
	base := newRawH1Server(t, func(conn net.Conn, br *bufio.Reader) {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		r, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String())))
		if r != nil && r.ContentLength > 0 {
			_, _ = io.CopyN(io.Discard, br, r.ContentLength)
		}
		wire <- head.String()
		_, _ = io.WriteString(conn, ex.answer)
	})
	h := newHTTP(2 * time.Second)
	req.URL = base + req.URL
	resp, err := h.Do(context.Background(), nil, req)
	var out rawOutcome
	if err != nil {
		out.Class = AsError(err).Class
		out.Status = AsError(err).StatusCode
	} else {
		out.Status, out.Header, out.Body = resp.StatusCode, resp.Header, string(resp.Body)
		out.Header.Del("Date")
	}
	select {
	case w := <-wire:
		return out, strings.ReplaceAll(w, strings.TrimPrefix(base, "http://"), "HOST")
	case <-time.After(5 * time.Second):
		t.Fatal("the server read no request")
		return out, ""
	}
}

// TestH1IdleLimits checks the base's idle settings: MaxIdleConnsPerHost
// bounds the connections kept, and IdleConnTimeout closes them.
func TestH1IdleLimits(t *testing.T) {
	t.Parallel()
	var open atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	h, base, _ := directHTTP(t, 5*time.Second)
	base.MaxIdleConnsPerHost = 2
	base.IdleConnTimeout = time.Second
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := h.Do(context.Background(), nil, Request{Method: http.MethodGet, URL: srv.URL})
			require.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return open.Load() == 4 }, 5*time.Second, 5*time.Millisecond)
	close(release)
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // the server sees the closes
	require.EqualValues(t, 2, open.Load(), "two kept idle")
	require.Eventually(t, func() bool { return open.Load() == 0 }, 5*time.Second, 10*time.Millisecond, "closed after the idle timeout")
}

// TestH1RedirectsAsNetHTTP checks that answers http.Client follows as
// redirects are followed through the direct path as through net/http
// alone: same final status, body, method, headers and errors, with the
// client's CheckRedirect applied.
func TestH1RedirectsAsNetHTTP(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		out, _ := json.Marshal(map[string]string{
			"method": r.Method, "path": r.URL.Path, "body": string(body),
			"auth": r.Header.Get("Authorization"), "referer": r.Header.Get("Referer"),
			"idempotency": r.Header.Get("Idempotency-Key"), "type": r.Header.Get("Content-Type"),
		})
		_, _ = w.Write(out)
	}
	other := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(other.Close)
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch parts[0] {
		case "same", "cross":
			code, _ := strconv.Atoi(parts[1])
			target := "/end"
			if parts[0] == "cross" {
				target = otherURL + "/end"
			}
			w.Header().Set("Location", target)
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"moved":true}`))
		case "noloc":
			w.WriteHeader(http.StatusFound)
		case "loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "badloc":
			w.Header().Set("Location", "http://[::1")
			w.WriteHeader(http.StatusFound)
		default:
			echo(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	var paths []string
	for _, code := range []int{301, 302, 303, 307, 308} {
		paths = append(paths, "/same/"+strconv.Itoa(code), "/cross/"+strconv.Itoa(code))
	}
	paths = append(paths, "/noloc", "/loop", "/badloc")
	requests := []Request{
		{Method: http.MethodGet, Header: http.Header{"Authorization": {"Bearer t"}}},
		{Method: http.MethodPost, Body: map[string]any{"text": "hi"}},
		{Method: http.MethodPost, Header: http.Header{"Authorization": {"Bearer t"}, "Idempotency-Key": {"k-1"}}, Body: map[string]any{"text": "hi"}},
		{Method: http.MethodDelete},
	}
	useLast := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, checkRedirect := range []func(*http.Request, []*http.Request) error{nil, useLast} {
		for _, path := range paths {
			for _, req := range requests {
				req.URL = srv.URL + path
				direct, _, _ := directHTTP(t, 5*time.Second)
				std := netHTTP(5 * time.Second)
				direct.Client.CheckRedirect, std.Client.CheckRedirect = checkRedirect, checkRedirect
				got, want := redirectOutcome(direct, req), redirectOutcome(std, req)
				require.Equal(t, want, got, "%s %s (CheckRedirect %v)", req.Method, path, checkRedirect != nil)
			}
		}
	}
}

// redirectOutcome is what a caller of h.Do sees of req: the answer's
// status and body, or the error's class and message.
func redirectOutcome(h *HTTP, req Request) string {
	resp, err := h.Do(context.Background(), nil, req)
	if err != nil {
		e := AsError(err)
		return fmt.Sprintf("error %s %d: %s", e.Class, e.StatusCode, e.Message)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Body)
}
