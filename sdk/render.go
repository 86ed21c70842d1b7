package sdk

import (
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
	r := newMasker(secrets)
	if r == nil {
		return req
	}
	out := RenderedRequest{Method: req.Method, URL: r.Replace(req.URL), Body: maskValue(req.Body, r)}
	if req.Header != nil {
		out.Header = make(map[string]string, len(req.Header))
		for k, v := range req.Header {
			out.Header[k] = r.Replace(v)
		}
	}
	return out
}

// MaskString returns s with every secret replaced by "***".
func MaskString(s string, secrets []string) string {
	if r := newMasker(secrets); r != nil {
		return r.Replace(s)
	}
	return s
}

func newMasker(secrets []string) *strings.Replacer {
	var pairs []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			pairs = append(pairs, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	if len(pairs) == 0 {
		return nil
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i]) > len(pairs[j]) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p, Masked)
	}
	return strings.NewReplacer(args...)
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
