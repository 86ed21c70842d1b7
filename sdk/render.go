package sdk

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// RenderedRequest is a request as dry-run shows it: what would be sent, with
// sensitive values replaced by "***".
type RenderedRequest struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"headers,omitempty"`
	Body   any               `json:"body,omitempty"`
}

// Masked is what every sensitive value is replaced with.
const Masked = "***"

// Mask returns req with every occurrence of each secret, in any of the forms
// a Masker knows, replaced by "***" in its URL, header values and body strings.
func Mask(req RenderedRequest, secrets []string) RenderedRequest {
	return NewMasker(secrets...).Request(req)
}

// MaskString returns s with every secret replaced by "***". It builds a
// Masker on each call; reuse one (such as Call.Masker) to mask often.
func MaskString(s string, secrets []string) string {
	return NewMasker(secrets...).String(s)
}

// Masker replaces secret values with "***" in every form Herald's own output
// can give them: raw, Go-quoted (%q, %+q), JSON-escaped with and without
// HTML escaping, HTML-escaped, URL query- and path-escaped, and each of those
// quoted or JSON-escaped once more (an error quoting a value, stored in a
// JSON document). Build one per set of secrets and reuse it: the forms are
// computed once, it is safe for concurrent use, and the zero or nil Masker
// masks nothing.
type Masker struct {
	r *strings.Replacer
	// prefixes are the distinct first MinMaskLength bytes of the forms r
	// replaces: a text holding none of them holds no form and is returned
	// as it is, without r's walk of every byte. Nil when there are too many
	// for the check to pay.
	prefixes []string
	// secrets are the values given to NewMasker.
	secrets []string
	// last is the last text r masked and what it gave, up to
	// maxRememberedMask bytes: a provider masks the same URL, with its
	// token in the query, on every call.
	last atomic.Pointer[maskedText]
}

// maskedText is a text a Masker masked, and the result.
type maskedText struct{ in, out string }

// maxRememberedMask is the longest text a Masker remembers masking: a URL
// fits, a body it would keep alive does not.
const maxRememberedMask = 1 << 10

// MinMaskLength is the shortest value a Masker masks. Masking shorter ones
// would garble every output they occur in ("t" would mask every t) while
// hiding next to nothing; the host warns about secrets that short.
const MinMaskLength = 4

// NewMasker returns a Masker for secrets; values shorter than MinMaskLength
// are ignored.
func NewMasker(secrets ...string) *Masker {
	var forms []string
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= MinMaskLength && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, s := range secrets {
		if len(s) < MinMaskLength {
			continue
		}
		first := encodings(s)
		for _, f := range first {
			add(f)
		}
		// A form inside a quoted or JSON-encoded text: an error that
		// quotes a value, kept in a JSON document or quoted by a logger.
		for _, f := range first {
			add(quoteInner(f))
			add(jsonInner(f, true))
			add(jsonInner(f, false))
		}
	}
	m := &Masker{secrets: slices.Clone(secrets)}
	if len(forms) == 0 {
		return m
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	args := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		args = append(args, f, Masked)
	}
	m.r = strings.NewReplacer(args...)
	m.prefixes = formPrefixes(forms)
	return m
}

// maxMaskPrefixes bounds the prefixes a Masker checks before replacing: past
// it, searching for each would cost about as much as the replacer's walk.
const maxMaskPrefixes = 16

// formPrefixes returns the distinct first MinMaskLength bytes of forms, nil
// when there are more than maxMaskPrefixes or a single form, which
// strings.Replacer already searches for faster than the check would.
func formPrefixes(forms []string) []string {
	if len(forms) < 2 {
		return nil
	}
	var prefixes []string
	for _, f := range forms {
		p := f[:MinMaskLength]
		if slices.Contains(prefixes, p) {
			continue
		}
		if len(prefixes) == maxMaskPrefixes {
			return nil
		}
		prefixes = append(prefixes, p)
	}
	return prefixes
}

// replace returns s with every form masked; m.r must be set. Every form
// starts with one of m.prefixes, so a text without any is returned at once.
func (m *Masker) replace(s string) string {
	if m.prefixes == nil {
		return m.replaceAll(s)
	}
	for _, p := range m.prefixes {
		if strings.Contains(s, p) {
			return m.replaceAll(s)
		}
	}
	return s
}

// replaceAll returns s with every form masked by m.r, or what it gave the
// last time it was given s.
func (m *Masker) replaceAll(s string) string {
	if len(s) > maxRememberedMask {
		return m.r.Replace(s)
	}
	if last := m.last.Load(); last != nil && last.in == s {
		return last.out
	}
	out := m.r.Replace(s)
	m.last.Store(&maskedText{in: s, out: out})
	return out
}

// holdsPrefix reports whether b holds one of m.prefixes, which every form
// starts with; true when m has none to check.
func (m *Masker) holdsPrefix(b []byte) bool {
	if m.prefixes == nil {
		return true
	}
	for _, p := range m.prefixes {
		if bytes.Contains(b, []byte(p)) {
			return true
		}
	}
	return false
}

// encodings returns the forms s takes in Herald's output, s itself first:
// Go-quoted (strconv.Quote and QuoteToASCII, without the quotes),
// JSON-escaped with and without HTML escaping, HTML-escaped, and URL query-
// and path-escaped. Duplicates are left out.
func encodings(s string) []string {
	out := []string{s}
	for _, f := range []string{
		quoteInner(s),
		unquote(strconv.QuoteToASCII(s)),
		jsonInner(s, true),
		jsonInner(s, false),
		html.EscapeString(s),
		url.QueryEscape(s),
		url.PathEscape(s),
	} {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func quoteInner(s string) string { return unquote(strconv.Quote(s)) }

func unquote(q string) string { return q[1 : len(q)-1] }

// jsonInner is s as encoding/json writes it inside a string, with or
// without its default escaping of <, > and &.
func jsonInner(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return s
	}
	return unquote(strings.TrimSuffix(b.String(), "\n"))
}

// String returns s with every secret masked.
func (m *Masker) String(s string) string {
	if m == nil || m.r == nil {
		return s
	}
	return m.replace(s)
}

// bytes returns b with every secret masked, and whether any was: b itself
// when it holds none, without the copies String would make of it.
func (m *Masker) bytes(b []byte) ([]byte, bool) {
	if m == nil || m.r == nil || !m.holdsPrefix(b) {
		return b, false
	}
	s := string(b)
	if masked := m.replace(s); masked != s {
		return []byte(masked), true
	}
	return b, false
}

// Value returns a copy of a JSON-like value (maps, lists, strings) with every
// secret masked in its strings.
func (m *Masker) Value(v any) any {
	if m == nil || m.r == nil {
		return v
	}
	return m.maskValue(v)
}

// Request returns req with every secret masked.
func (m *Masker) Request(req RenderedRequest) RenderedRequest {
	if m == nil || m.r == nil {
		return req
	}
	out := RenderedRequest{Method: req.Method, URL: m.replace(req.URL), Body: m.maskValue(req.Body)}
	if req.Header != nil {
		out.Header = make(map[string]string, len(req.Header))
		for k, v := range req.Header {
			out.Header[k] = m.replace(v)
		}
	}
	return out
}

// Writer returns a writer that masks every secret in what it passes to w.
// Each Write is masked on its own, which suits loggers writing a line a call.
func (m *Masker) Writer(w io.Writer) io.Writer { return maskWriter{m: m, w: w} }

type maskWriter struct {
	m *Masker
	w io.Writer
}

func (mw maskWriter) Write(p []byte) (int, error) {
	if mw.m == nil || mw.m.r == nil {
		return mw.w.Write(p)
	}
	if _, err := io.WriteString(mw.w, mw.m.replace(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// value masks v like Value and reports whether anything changed.
func (m *Masker) value(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		out := m.replace(x)
		return out, out != x
	case map[string]any:
		out := make(map[string]any, len(x))
		changed := false
		for k, val := range x {
			mk := m.replace(k)
			mv, c := m.value(val)
			out[mk] = mv
			changed = changed || c || mk != k
		}
		return out, changed
	case []any:
		out := make([]any, len(x))
		changed := false
		for i, val := range x {
			var c bool
			out[i], c = m.value(val)
			changed = changed || c
		}
		return out, changed
	default:
		return v, false
	}
}

// maskValue returns a copy of v with every secret masked in its strings;
// m.r must be set.
func (m *Masker) maskValue(v any) any {
	switch x := v.(type) {
	case string:
		return m.replace(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[m.replace(k)] = m.maskValue(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = m.maskValue(val)
		}
		return out
	default:
		return v
	}
}
