package sdk

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzH1Response feeds the same bytes as a server's answer to a request
// through the direct transport and through net/http's, and requires the
// same outcome: both fail before a response, or the same status, header
// and body, and a body that fails for both or for neither.
func FuzzH1Response(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 23\r\n\r\n\x1f\x8b\b\x00\x00\x00\x00\x00\x00\xff\xaa\xae\x05\x04\x00\x00\xff\xff\x00\x00\x00\x00\x00",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 999 Odd\r\nConnection: close\r\n\r\n",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, answer []byte, post bool) {
		direct := fuzzOutcome(t, answer, post, func(base *http.Transport) http.RoundTripper {
			h := newH1Transport(nil, base)
			h.fallback = failingTripper{t}
			return h
		})
		std := fuzzOutcome(t, answer, post, func(base *http.Transport) http.RoundTripper { return base })
		if direct != std {
			t.Fatalf("answer %q:\ndirect   %+v\nnet/http %+v", answer, direct, std)
		}
	})
}

// failingTripper fails a test that expected no fallback.
type failingTripper struct{ t *testing.T }

func (f failingTripper) RoundTrip(*http.Request) (*http.Response, error) {
	f.t.Fatal("the request fell back to net/http")
	return nil, nil
}

// fuzzResult is what a caller sees of one exchange.
type fuzzResult struct {
	failed  bool
	status  int
	header  string
	body    string
	bodyErr bool
}

// fuzzOutcome sends one request through the transport newRT builds over a
// transport dialling an in-memory connection whose server answers with
// answer and closes.
func fuzzOutcome(t *testing.T, answer []byte, post bool, newRT func(*http.Transport) http.RoundTripper) fuzzResult {
	server, client := net.Pipe()
	defer server.Close()
	go func() {
		br := bufio.NewReader(server)
		if req, err := http.ReadRequest(br); err == nil {
			_, _ = io.Copy(io.Discard, req.Body)
			_, _ = server.Write(answer)
		}
		_ = server.Close()
	}()
	base := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
	defer base.CloseIdleConnections()
	rt := newRT(base)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var body io.Reader
	method := http.MethodGet
	if post {
		method, body = http.MethodPost, strings.NewReader(`{"a":1}`)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://fuzz.invalid/x", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return fuzzResult{failed: true}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var header bytes.Buffer
	_ = resp.Header.Write(&header)
	return fuzzResult{status: resp.StatusCode, header: header.String(), body: string(data), bodyErr: err != nil}
}
