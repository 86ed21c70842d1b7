package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/heraldhq/herald/internal/jsonenc"
	"github.com/heraldhq/herald/internal/jsonvalid"
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
	if len(request) > 0 && !jsonvalid.Valid(request) {
		request = nil
	}
	if len(response) > 0 && !jsonvalid.Valid(response) {
		response = nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.request, e.response = request, response
}

// record stores a request and, when resp is not nil, its response, capped.
// The request's URL and body are masked with m here; respBody must already
// be masked with m (HTTP.Do masks a response before anything reads it). Bodies
// are the raw bytes sent and received: a JSON body is kept as JSON, anything
// else as text. The halves are written directly, not through json.Marshal,
// which would scan each body once more to compact it.
func (e *Exchange) record(m *Masker, method, url string, reqBody []byte, resp *http.Response, respBody []byte) {
	if e == nil {
		return
	}
	url = m.String(url)
	body := exchangeBody(m, reqBody, MaxExchangeBytes-len(url)-64, true)
	reqJSON := make([]byte, 0, 32+len(method)+len(url)+len(body))
	reqJSON = append(reqJSON, `{"method":`...)
	reqJSON = jsonenc.AppendString(reqJSON, method)
	reqJSON = append(reqJSON, `,"url":`...)
	reqJSON = jsonenc.AppendString(reqJSON, url)
	reqJSON = appendExchangeBody(reqJSON, body)
	var respJSON []byte
	if resp != nil {
		body := exchangeBody(nil, respBody, MaxExchangeBytes-64, false)
		respJSON = make([]byte, 0, 32+len(body))
		respJSON = append(respJSON, `{"status":`...)
		respJSON = strconv.AppendInt(respJSON, int64(resp.StatusCode), 10)
		respJSON = appendExchangeBody(respJSON, body)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.request, e.response = reqJSON, respJSON
}

// appendExchangeBody ends a half of the exchange: its "body" member, left
// out when empty, and the closing brace.
func appendExchangeBody(dst []byte, body json.RawMessage) []byte {
	if len(body) > 0 {
		dst = append(dst, `,"body":`...)
		dst = append(dst, body...)
	}
	return append(dst, '}')
}

// exchangeBody returns a body as the exchange keeps it, masked with m (nil:
// b is masked already): the JSON itself when it is JSON that fits in limit
// bytes, else its text as a JSON string, cut to fit and ending in "…" when
// it did not. isJSON says b is JSON (HTTP.Do encoded it): it is checked
// again only when masking changed it.
func exchangeBody(m *Masker, b []byte, limit int, isJSON bool) json.RawMessage {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if masked, changed := m.bytes(b); changed {
		b, isJSON = masked, false
	}
	if len(b) <= limit && (isJSON || jsonvalid.Valid(b)) {
		return json.RawMessage(b)
	}
	s := string(b)
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
