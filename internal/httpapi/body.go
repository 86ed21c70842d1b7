package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/engine"
)

// errBodyTooLarge is returned by readBody for a body over the cap.
var errBodyTooLarge = errors.New("request body too large")

// maxPresize caps how much readBody allocates up front on the word of a
// Content-Length header.
const maxPresize = 64 << 10

// readBody reads the request body, reading at most limit+1 bytes: a body
// longer than limit is errBodyTooLarge. A body of a declared length is
// read into one buffer of that length and a byte more, to see its end.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		size = min(r.ContentLength, maxPresize) + 1
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if int64(len(buf)) > limit {
			return nil, errBodyTooLarge
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(len(buf), bytes.MinRead))
		}
		n, err := r.Body.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, errBodyTooLarge
	}
	return buf, nil
}

// readBodyOrFail reads the body, answering 413 or 400 when it cannot.
func (a *api) readBodyOrFail(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := readBody(r, a.opts.MaxBody)
	switch {
	case errors.Is(err, errBodyTooLarge):
		a.fail(w, http.StatusRequestEntityTooLarge, "request body is larger than %s", byteSize(a.opts.MaxBody))
		return nil, false
	case err != nil:
		a.fail(w, http.StatusBadRequest, "%s", err)
		return nil, false
	}
	return body, true
}

// byteSize formats n bytes for a message.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// decodeJSON decodes a JSON document into the plain values expressions
// read (integers as int64, other numbers as float64). An empty or blank
// body is nil. The error of a malformed body says what is wrong and where.
func decodeJSON(body []byte) (any, error) {
	// The usual body: valid, within MaxJSONDepth, its numbers finite.
	if v, ok := engine.DecodeJSONDirect(body); ok {
		return v, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if err := engine.CheckJSONDepth(body); err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		return nil, jsonProblem(body)
	}
	v, err := engine.DecodeJSON(body)
	if err != nil {
		return nil, err
	}
	if err := finite(v, ""); err != nil {
		return nil, err
	}
	return v, nil
}

// finite reports a number JSON can spell but a float64 cannot hold, such as
// 1e400: it decodes to an infinity, which no run can store. at is the JSON
// pointer of v.
func finite(v any, at string) error {
	switch x := v.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			if at == "" {
				at = "/"
			}
			return fmt.Errorf("number out of range at %s", at)
		}
	case map[string]any:
		for k, e := range x {
			if err := finite(e, at+"/"+k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := finite(e, at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonProblem describes why body, which json.Valid rejected, is not one JSON
// document.
func jsonProblem(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("%s (at byte %d)", se.Error(), se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("unexpected end of JSON input")
		}
		return err
	}
	return fmt.Errorf("unexpected data after the JSON value (at byte %d)", dec.InputOffset()+1)
}

// decodeHookBody turns a webhook body into trigger.body. An empty body is
// nil. A body declared JSON, or sent without a Content-Type, must be JSON
// and is decoded. A form (application/x-www-form-urlencoded) becomes a map
// of strings, repeated fields joined with ", " — unless the body is a JSON
// object or array, which is what `curl -d '{...}'` sends under curl's
// default form Content-Type. Any other body is decoded
// when it is JSON and passed as a string when it is other UTF-8 text; a
// binary body is refused.
func decodeHookBody(contentType string, body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	mediaType := ""
	switch contentType {
	case "":
	case "application/json":
		// The usual case, with no parameters to parse.
		mediaType = contentType
	default:
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("malformed Content-Type %q: %w", contentType, err)
		}
		mediaType = mt
	}
	switch {
	case mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		v, err := decodeJSON(body)
		if err != nil {
			if deep := (*engine.JSONDepthError)(nil); errors.As(err, &deep) {
				return nil, fmt.Errorf("body: %w", err)
			}
			return nil, fmt.Errorf("body is not valid JSON: %w", err)
		}
		return v, nil
	case mediaType == "application/x-www-form-urlencoded" && looksLikeJSON(body):
		return decodeJSON(body)
	case mediaType == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("body is not a valid form: %w", err)
		}
		out := make(map[string]any, len(vals))
		for k, vs := range vals {
			out[k] = strings.Join(vs, ", ")
		}
		return out, nil
	case json.Valid(body):
		return decodeJSON(body)
	case utf8.Valid(body):
		return string(body), nil
	}
	return nil, fmt.Errorf("body of type %s is neither JSON nor UTF-8 text", mediaType)
}

// looksLikeJSON reports a body that is a valid JSON object or array.
func looksLikeJSON(body []byte) bool {
	t := bytes.TrimSpace(body)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// idempotencyKey returns the request's Idempotency-Key, empty when it has
// none. A key that is empty, longer than MaxIdempotencyKeyLen, not UTF-8,
// holds control characters or is sent twice is an error.
func idempotencyKey(r *http.Request) (string, error) {
	values := r.Header.Values("Idempotency-Key")
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", errors.New("more than one Idempotency-Key header")
	}
	key := values[0]
	switch {
	case key == "":
		return "", errors.New("empty Idempotency-Key header")
	case len(key) > MaxIdempotencyKeyLen:
		return "", fmt.Errorf("the Idempotency-Key is %d bytes, longer than %d", len(key), MaxIdempotencyKeyLen)
	case !utf8.ValidString(key) || strings.ContainsFunc(key, unicode.IsControl):
		return "", errors.New("the Idempotency-Key must be UTF-8 text without control characters")
	}
	return key, nil
}

// flatten turns multi-valued headers or query parameters into one string
// each, repeated values joined with ", ". Names are lowered when lower is
// set. skip leaves names out (compared lowered). Nil when nothing is left.
func flatten(values map[string][]string, lower bool, skip func(string) bool) map[string]string {
	var out map[string]string
	for k, vs := range values {
		name := k
		if lower {
			name = lowerName(k)
		}
		if skip != nil && skip(lowerName(k)) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(values))
		}
		v := strings.Join(vs, ", ")
		if prev, ok := out[name]; ok {
			// Two spellings of one header name, only possible when the
			// header map was built by hand.
			v = prev + ", " + v
		}
		out[name] = v
	}
	return out
}

// commonHeaders are the lower-case names of the headers most requests
// carry, by their canonical spelling, so lowerName need not allocate them.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Connection", "Content-Length",
		"Content-Type", "Idempotency-Key", "Traceparent", "Tracestate", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Request-Id", SignatureHeader, TimestampHeader} {
		m[name] = strings.ToLower(name)
	}
	return m
}()

// lowerName returns name in lower case.
func lowerName(name string) string {
	if l, ok := commonHeaders[name]; ok {
		return l
	}
	return strings.ToLower(name)
}
