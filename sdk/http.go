package sdk

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/tracing/tracecontext"
)

// maxResponseBody bounds how much of a provider response is read.
const maxResponseBody = 8 << 20

// HTTP is the HTTP plumbing every bundled provider shares: a client with
// timeouts, dry-run rendering, body overrides and the status-code to
// error-class mapping of the plugin protocol.
type HTTP struct {
	Client *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// ErrorMessage extracts the provider's message from an error response
	// body; nil uses DefaultErrorMessage.
	ErrorMessage func(body []byte) string
	// RetryAfter reads the wait a provider asks for from the body of an
	// error response, such as Telegram's parameters.retry_after (see
	// RetryAfterSeconds). A positive wait makes the error rate_limited with
	// that wait, whatever the status, and overrides the Retry-After header;
	// zero leaves the status mapping as it is. Nil reads the header only.
	RetryAfter func(status int, body []byte) time.Duration
	// Now returns the current time, for Retry-After dates; nil uses time.Now.
	Now func() time.Time

	// direct sends NewHTTP's requests on the caller's goroutine while
	// Client is still the client NewHTTP made (see h1Transport).
	direct *h1Transport
	// last is the target of the last request, parsed (see newRequest).
	last atomic.Pointer[lastTarget]
}

// NewHTTP returns an HTTP whose requests time out after timeout (each call's
// context may end them sooner).
//
// Its Client has a clone of http.DefaultTransport, whose settings (TLS
// configuration, proxy, idle connections) may be changed. While Client and
// its Transport are left in place, Do sends plain HTTP/1.1 requests
// itself, on the calling goroutine, with those settings, and gives the
// rest to the Transport: a request through a proxy, a TLS server that
// refuses HTTP/1.1. Such a request goes through Client only when its answer
// is a redirect, which Client then follows as it would have (see
// roundTrip). Over TLS it offers HTTP/1.1 only, where the Transport alone
// would offer HTTP/2 as well.
func NewHTTP(timeout time.Duration) *HTTP {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = timeout
	client := &http.Client{Timeout: timeout, Transport: transport}
	return &HTTP{Client: client, UserAgent: "herald", direct: newH1Transport(client, transport)}
}

// Request is one HTTP request a provider sends.
type Request struct {
	Method string
	// URL is absolute; Query, when set, is added to it.
	URL    string
	Query  url.Values
	Header http.Header
	// Body is encoded as JSON; nil sends no body.
	Body any
	// MergeBody deep-merges the call's BodyOverride into Body, which must
	// then encode as a JSON object.
	MergeBody bool
}

// Response is a provider's successful (2xx) response.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// DryRun is set when the request was rendered instead of sent; the
	// other fields are then empty.
	DryRun bool
}

// JSON decodes the response body into v. A body that is not the JSON the
// provider documents is a permanent error.
func (r *Response) JSON(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		e := Permanent(fmt.Errorf("provider returned an unexpected response (HTTP %d): %v: %s", r.StatusCode, err, truncate(string(r.Body), 200)))
		e.StatusCode = r.StatusCode
		return e
	}
	return nil
}

// Do sends req for call and classifies the outcome: a 2xx returns the
// response; 429 is rate_limited with the Retry-After it carries; 5xx is
// retryable; other statuses are permanent with the provider's message. A
// transport failure before the request was fully written (connection
// refused, DNS failure, nothing written) is retryable; a timeout or
// connection loss after it was fully written is in_doubt for any method but
// GET and HEAD, which change nothing and stay retryable. Do never lets
// net/http re-send a written request on its own (see newSendTrace). In
// dry-run mode the request is rendered with sensitive values masked and
// nothing is sent.
func (h *HTTP) Do(ctx context.Context, call *Call, req Request) (*Response, error) {
	target := req.URL
	if len(req.Query) > 0 {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target = appendQuery(target, sep, req.Query)
	}
	if err := lookupOnly(call, req.Method); err != nil {
		return nil, err
	}
	body := req.Body
	if req.MergeBody && call != nil && len(call.BodyOverride) > 0 {
		m, err := toObject(body)
		if err != nil {
			return nil, Permanent(fmt.Errorf("body override: %w", err))
		}
		body = MergeBody(m, call.BodyOverride)
	}
	var payload []byte
	if body != nil {
		var err error
		// json.Marshal's bytes, without its reflection for the plain
		// structs and maps providers send.
		if payload, err = marshalOutput(body); err != nil {
			return nil, Permanent(fmt.Errorf("encode request body: %w", err))
		}
	}
	// Room for the three default headers and a traceparent.
	header := make(http.Header, len(req.Header)+4)
	for k, v := range req.Header {
		header[k] = append([]string(nil), v...)
	}
	setDefaultHeaders(header, payload != nil, h.UserAgent)
	if call != nil && call.DryRun {
		rendered := RenderedRequest{Method: req.Method, URL: target, Header: map[string]string{}}
		for k := range header {
			rendered.Header[k] = header.Get(k)
		}
		if payload != nil {
			var v any
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.UseNumber()
			_ = dec.Decode(&v)
			rendered.Body = v
		}
		call.Render(rendered)
		return &Response{DryRun: true}, nil
	}
	client, direct, ctx, cancel := h.client(ctx)
	defer cancel()
	ex := ExchangeFrom(ctx)
	sent := newSendTrace(req.Method, header)
	if direct == nil || client.Jar != nil {
		// The direct transport tells sent itself.
		ctx = sent.context(ctx)
	}
	httpReq, err := newRequest(ctx, &h.last, req.Method, target, payload, header, sent.changes)
	if err != nil {
		return nil, Permanent(fmt.Errorf("build request: %w", h.mask(call, err)))
	}
	// The call's trace continues at the provider (W3C traceparent).
	tracecontext.ToHTTP(ctx, httpReq.Header)
	resp, err := roundTrip(client, direct, httpReq, sent)
	if err != nil {
		ex.record(call.Masker(), req.Method, target, payload, nil, nil)
		return nil, sent.classify(fmt.Errorf("%s %s: %w", req.Method, h.maskURL(call, req.URL), transportError(err)))
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if call != nil {
		// Mask before anything reads the body: error messages and the
		// recorded exchange are cut short, and a secret cut in two would
		// no longer be recognised; JSON is masked value by value, which
		// also catches escapes our encoders never write (such as \/).
		data = maskBytes(call.Masker(), data)
	}
	if ex != nil {
		ex.record(call.Masker(), req.Method, target, payload, resp, data)
	}
	if err != nil {
		return nil, sent.classify(fmt.Errorf("read response: %w", transportError(err)))
	}
	if cerr := h.Classify(resp.StatusCode, resp.Header, data); cerr != nil {
		return nil, cerr
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// readBody reads resp's body as io.ReadAll reads it, up to
// maxResponseBody bytes: into one slice of its Content-Length and a byte
// (for the end) when it has one, where io.ReadAll starts at 512 bytes and
// grows.
func readBody(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n >= maxResponseBody {
		return io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	}
	b := make([]byte, 0, n+1)
	for {
		m, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			// More than the Content-Length (a transport of the caller's
			// own): the rest as before, within the limit.
			rest, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody-int64(len(b))))
			return append(b, rest...), err
		}
	}
}

// appendQuery returns target, sep and q encoded as q.Encode encodes it; a
// query of one key with one value (an API token) is joined to target in
// one string, without Encode's sorted keys and builder.
func appendQuery(target, sep string, q url.Values) string {
	if len(q) == 1 {
		for k, vs := range q {
			if len(vs) == 1 {
				return target + sep + url.QueryEscape(k) + "=" + url.QueryEscape(vs[0])
			}
		}
	}
	return target + sep + q.Encode()
}

// setDefaultHeaders sets in header, where it has none, Content-Type (for a
// body) and Accept to application/json and User-Agent to userAgent (when
// not empty). The values share one array; each is a slice of capacity 1,
// as Set would make it, so that an append to one copies it.
func setDefaultHeaders(header http.Header, body bool, userAgent string) {
	var keys, values [3]string
	n := 0
	if body && headerValue(header, "Content-Type") == "" {
		keys[n], values[n] = "Content-Type", "application/json"
		n++
	}
	if headerValue(header, "Accept") == "" {
		keys[n], values[n] = "Accept", "application/json"
		n++
	}
	if userAgent != "" && headerValue(header, "User-Agent") == "" {
		keys[n], values[n] = "User-Agent", userAgent
		n++
	}
	if n == 0 {
		return
	}
	shared := append([]string(nil), values[:n]...)
	for i := range n {
		header[keys[i]] = shared[i : i+1 : i+1]
	}
}

// headerValue is h.Get(key) for a key already in canonical form (a
// constant such as "Content-Type"), without Get's canonicalisation of key
// on every call.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// client returns the client a request made with ctx goes through, and the
// context to make it with. NewHTTP's client, left in place, sends through
// h.direct (returned as direct, see roundTrip), with its Timeout as a
// deadline on the context (http.Client would run a goroutine and a timer a
// request to enforce it around a transport not its own). Another client is
// Client, or a copy without its Timeout when ctx ends first anyway, which
// spares net/http a second deadline (a context and a timer) on every
// request.
func (h *HTTP) client(ctx context.Context) (*http.Client, *h1Transport, context.Context, context.CancelFunc) {
	c := h.Client
	if c == nil {
		return http.DefaultClient, nil, ctx, func() {}
	}
	sooner := false
	if c.Timeout > 0 {
		deadline, ok := ctx.Deadline()
		sooner = ok && time.Until(deadline) <= c.Timeout
	}
	if d := h.direct; d != nil && d.client == c && c.Transport == d.base {
		if c.Timeout > 0 && !sooner {
			ctx, cancel := context.WithTimeout(ctx, c.Timeout)
			return c, d, ctx, cancel
		}
		return c, d, ctx, func() {}
	}
	if !sooner {
		return c, nil, ctx, func() {}
	}
	return untimed(c, c.Transport), nil, ctx, func() {}
}

// roundTrip sends req through c, or, when direct is set (c is NewHTTP's
// client, its deadline already on req's context), through direct without
// http.Client, whose work for a request that is neither redirected nor
// sent with cookies or URL credentials is bookkeeping: a copy of the
// header for redirects, a url.Error around errors (Do takes it off again).
// An answer http.Client may follow as a redirect is handed to a copy of c
// as its first round trip's answer, so that c's CheckRedirect, its
// redirect rules and its errors apply as they would have.
//
// sent is told when the request was written: through the request's
// context, which has its hook unless direct is set and c has no Jar, or
// by direct.
func roundTrip(c *http.Client, direct *h1Transport, req *http.Request, sent *sendTrace) (*http.Response, error) {
	if direct == nil {
		return c.Do(req)
	}
	if c.Jar != nil {
		return untimed(c, direct).Do(req)
	}
	if req.URL.User != nil {
		return untimed(c, direct).Do(req.WithContext(sent.context(req.Context())))
	}
	resp, err := direct.send(req, sent)
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch // as http.Client reports it
		}
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		rc := untimed(c, &replayTransport{first: resp, next: direct})
		return rc.Do(req)
	}
	return resp, nil
}

// untimed returns a copy of c that sends through rt without c's Timeout
// (the request's context ends first, or carries it).
func untimed(c *http.Client, rt http.RoundTripper) *http.Client {
	cc := *c
	cc.Transport = rt
	cc.Timeout = 0
	return &cc
}

// replayTransport answers its first round trip with first, an answer
// already read, and sends the others through next.
type replayTransport struct {
	first *http.Response
	next  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if resp := t.first; resp != nil {
		t.first = nil
		return resp, nil
	}
	return t.next.RoundTrip(req)
}

func (h *HTTP) mask(call *Call, err error) error {
	if call == nil {
		return err
	}
	return errors.New(call.Masker().String(err.Error()))
}

// maskURL drops the query string (where tokens usually travel) and masks
// secrets in the rest.
func (h *HTTP) maskURL(call *Call, raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if call == nil {
		return raw
	}
	return call.Masker().String(raw)
}

// maskBytes returns a response body with m's secrets masked, data itself
// when it holds none. A JSON body with an escape in it is also decoded and
// masked value by value, for encoders that escape differently from Go (PHP's
// "\/", "\u0074"). A JSON text without a backslash has every string and key
// decoded to its own bytes, which the text's masking has already masked: it
// is not decoded.
func maskBytes(m *Masker, data []byte) []byte {
	if m == nil || m.r == nil {
		return data
	}
	data, _ = m.bytes(data)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') || bytes.IndexByte(trimmed, '\\') < 0 {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return data
	}
	masked, changed := m.value(v)
	if !changed {
		return data
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(masked) != nil {
		return data
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// transportError strips the URL net/http puts in its errors: it may carry a
// token in its query string.
func transportError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return fmt.Errorf("timeout: %w", err)
	}
	return err
}

// Classify maps an HTTP status to nil (2xx) or a classified error carrying the
// provider's message.
func (h *HTTP) Classify(status int, header http.Header, body []byte) *Error {
	if status >= 200 && status < 300 {
		return nil
	}
	msgFn := h.ErrorMessage
	if msgFn == nil {
		msgFn = DefaultErrorMessage
	}
	msg := msgFn(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	err := fmt.Errorf("provider answered HTTP %d: %s", status, msg)
	var e *Error
	switch {
	case status == http.StatusTooManyRequests:
		now := time.Now
		if h.Now != nil {
			now = h.Now
		}
		e = RateLimited(ParseRetryAfter(header.Get("Retry-After"), now()), err)
	case status >= 500, status == http.StatusRequestTimeout:
		e = Retryable(err)
	default:
		e = Permanent(err)
	}
	if wait := h.bodyRetryAfter(status, body); wait > 0 {
		e = RateLimited(wait, err)
	}
	e.StatusCode = status
	return e
}

// DefaultErrorMessage returns the first non-empty "error", "message",
// "errors" or "description" member of a JSON error body (an object or list
// member as compact JSON), or the body's start when it is not JSON.
func DefaultErrorMessage(body []byte) string {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err == nil {
		for _, key := range []string{"error", "message", "errors", "description"} {
			switch m := v[key].(type) {
			case string:
				if m != "" {
					return m
				}
			case nil:
			default:
				b, _ := json.Marshal(m)
				return truncate(string(b), 300)
			}
		}
	}
	return truncate(strings.TrimSpace(string(body)), 300)
}

// ParseRetryAfter reads a Retry-After header value, in seconds or as an HTTP
// date, and returns the wait it asks for (zero when absent or unreadable).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func toObject(v any) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("request body is not a JSON object")
	}
	return m, nil
}

// truncate cuts s to at most n bytes, at a rune boundary, marking the cut.
// Mask s first: a secret cut in two is no longer recognised.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
