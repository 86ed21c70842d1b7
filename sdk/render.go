package sdk

import (
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strings"
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

// Mask returns req with every occurrence of each secret, raw or URL-escaped,
// replaced by "***" in its URL, header values and body strings.
func Mask(req RenderedRequest, secrets []string) RenderedRequest {
	return NewMasker(secrets...).Request(req)
}

// MaskString returns s with every secret replaced by "***".
func MaskString(s string, secrets []string) string {
	return NewMasker(secrets...).String(s)
}

// Masker replaces secret values, raw, URL-escaped or JSON-escaped, with
// "***". Build one per set of secrets and reuse it: it is safe for concurrent
// use, and the zero or nil Masker masks nothing.
type Masker struct {
	r *strings.Replacer
}

// MinMaskLength is the shortest value a Masker masks. Masking shorter ones
// would garble every output they occur in ("t" would mask every t) while
// hiding next to nothing; the host warns about secrets that short.
const MinMaskLength = 4

// NewMasker returns a Masker for secrets; values shorter than MinMaskLength
// are ignored.
func NewMasker(secrets ...string) *Masker {
	var pairs []string
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= MinMaskLength && !seen[s] {
			seen[s] = true
			pairs = append(pairs, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
	}
	if len(pairs) == 0 {
		return &Masker{}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i]) > len(pairs[j]) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p, Masked)
	}
	return &Masker{r: strings.NewReplacer(args...)}
}

// String returns s with every secret masked.
func (m *Masker) String(s string) string {
	if m == nil || m.r == nil {
		return s
	}
	return m.r.Replace(s)
}

// Value returns a copy of a JSON-like value (maps, lists, strings) with every
// secret masked in its strings.
func (m *Masker) Value(v any) any {
	if m == nil || m.r == nil {
		return v
	}
	return maskValue(v, m.r)
}

// Request returns req with every secret masked.
func (m *Masker) Request(req RenderedRequest) RenderedRequest {
	if m == nil || m.r == nil {
		return req
	}
	out := RenderedRequest{Method: req.Method, URL: m.r.Replace(req.URL), Body: maskValue(req.Body, m.r)}
	if req.Header != nil {
		out.Header = make(map[string]string, len(req.Header))
		for k, v := range req.Header {
			out.Header[k] = m.r.Replace(v)
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
	if _, err := io.WriteString(mw.w, mw.m.r.Replace(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func maskValue(v any, r *strings.Replacer) any {
	switch x := v.(type) {
	case string:
		return r.Replace(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = maskValue(val, r)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = maskValue(val, r)
		}
		return out
	default:
		return v
	}
}
