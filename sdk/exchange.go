package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
)

// MaxExchangeBytes caps each of the request and the response an Exchange
// keeps, encoded as JSON: a larger body is cut and kept as a string.
const MaxExchangeBytes = 8 << 10

// Exchange records the last HTTP request an action sent and the response it
// got back, masked like dry-run output, so the host can keep them in the
// run's history. HTTP.Do fills the Exchange that the call's context carries
// (see WithExchange); over the plugin protocol it travels back with the
// invoke's result. It is safe for concurrent use.
type Exchange struct {
	mu       sync.Mutex
	request  json.RawMessage
	response json.RawMessage
}

type exchangeKey struct{}

// WithExchange returns ctx carrying ex: an invoke made with the returned
// context records its last HTTP exchange in ex.
func WithExchange(ctx context.Context, ex *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// ExchangeFrom returns the Exchange ctx carries, or nil.
func ExchangeFrom(ctx context.Context) *Exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*Exchange)
	return ex
}

// Request returns the recorded request as JSON {"method","url","body"}, nil
// when none was recorded.
func (e *Exchange) Request() json.RawMessage {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.request
}

// Response returns the recorded response as JSON {"status","body"}, nil when
// no response was received.
func (e *Exchange) Response() json.RawMessage {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.response
}

// SetRaw replaces what e holds with an exchange recorded elsewhere (by the
// plugin, across the protocol). Values that are not JSON are dropped.
func (e *Exchange) SetRaw(request, response json.RawMessage) {
	if e == nil {
		return
	}
	if len(request) > 0 && !json.Valid(request) {
		request = nil
	}
	if len(response) > 0 && !json.Valid(response) {
		response = nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.request, e.response = request, response
}

// record stores a request and, when resp is not nil, its response, masked
// with m and capped. Bodies are the raw bytes sent and received: a JSON
// body is kept as JSON, anything else as text.
func (e *Exchange) record(m *Masker, method, url string, reqBody []byte, resp *http.Response, respBody []byte) {
	if e == nil {
		return
	}
	url = m.String(url)
	reqJSON, _ := json.Marshal(rawExchangeRequest{Method: method, URL: url, Body: exchangeBody(m, reqBody, MaxExchangeBytes-len(url)-64)})
	var respJSON json.RawMessage
	if resp != nil {
		respJSON, _ = json.Marshal(rawExchangeResponse{Status: resp.StatusCode, Body: exchangeBody(m, respBody, MaxExchangeBytes-64)})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.request, e.response = reqJSON, respJSON
}

// rawExchangeRequest and rawExchangeResponse encode the halves with their
// bodies already encoded.
type rawExchangeRequest struct {
	Method string          `json:"method"`
	URL    string          `json:"url"`
	Body   json.RawMessage `json:"body,omitempty"`
}

type rawExchangeResponse struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// exchangeBody returns a body as the exchange keeps it, masked: the JSON
// itself when it is JSON that fits in limit bytes, else its text as a JSON
// string, cut to fit and ending in "…" when it did not.
func exchangeBody(m *Masker, b []byte, limit int) json.RawMessage {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	s := m.String(string(b))
	if len(s) <= limit && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	// A JSON string may grow by escaping; leave room.
	if cut := max(limit/2, 0); len(s) > cut {
		s = truncateUTF8(s, cut) + "…"
	}
	q, _ := json.Marshal(s)
	return q
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
