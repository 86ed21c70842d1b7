package sdk

import (
	"bytes"
	"context"
	"encoding/json"
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

// ExchangeRequest is the request half of an Exchange as it is stored.
type ExchangeRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   any    `json:"body,omitempty"`
}

// ExchangeResponse is the response half of an Exchange as it is stored.
type ExchangeResponse struct {
	Status int `json:"status"`
	Body   any `json:"body,omitempty"`
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
// with m and capped.
func (e *Exchange) record(m *Masker, req ExchangeRequest, resp *ExchangeResponse) {
	if e == nil {
		return
	}
	req.URL = m.String(req.URL)
	req.Body = capBody(m.Value(req.Body), MaxExchangeBytes-len(req.URL)-64)
	reqJSON, _ := json.Marshal(req)
	var respJSON json.RawMessage
	if resp != nil {
		resp.Body = capBody(m.Value(resp.Body), MaxExchangeBytes-64)
		respJSON, _ = json.Marshal(resp)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.request, e.response = reqJSON, respJSON
}

// exchangeBody returns a body as the exchange keeps it: the decoded JSON
// value when it is JSON, else the text.
func exchangeBody(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&v) == nil && !dec.More() {
		return v
	}
	return string(b)
}

// capBody returns v, or when its JSON is longer than limit bytes, the start
// of that JSON as a string ending in "…".
func capBody(v any, limit int) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) <= limit {
		return v
	}
	// The string's own JSON escaping may grow it; leave room.
	cut := max(limit/2, 0)
	s := string(b)
	if s2, ok := v.(string); ok {
		s = s2
	}
	if len(s) > cut {
		s = truncateUTF8(s, cut)
	}
	return s + "…"
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
