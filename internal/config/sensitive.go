package config

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/heraldhq/herald/sdk"
)

// A webhook trigger's sensitive list names the request headers, query
// parameters and body fields whose values are credentials: they are masked
// as "***" before the run is stored, so run history, API responses and the
// workflow's own expressions see "***".
//
// An entry is one of
//
//	headers.<name>   a header, such as headers.X-Api-Key
//	query.<name>     a query parameter, such as query.token
//	body.<path>      a body field, such as body.auth.password; a segment
//	                 may be * (any key, every list item) or a list index
//	body             the whole body
//	<name>           a header, such as X-My-Header (no dot)
//
// A * in a header or query name, or in a body key, matches any run of
// characters. Header and query names match regardless of case; body keys
// match exactly. The entries add to DefaultSensitiveHeaders and
// DefaultSensitiveQuery, which always apply.

// DefaultSensitiveHeaders are the header name patterns every webhook
// trigger masks: the credentials of HTTP and the names providers give
// theirs (X-Api-Key, X-Gitlab-Token, X-Hub-Signature-256, …).
var DefaultSensitiveHeaders = []string{
	"authorization", "proxy-authorization", "cookie", "set-cookie",
	"*token*", "*secret*", "*password*", "*signature*",
	"*api-key*", "*api_key*", "*apikey*", "*auth-key*",
}

// DefaultSensitiveQuery are the query parameter name patterns every webhook
// trigger masks.
var DefaultSensitiveQuery = []string{
	"*token*", "*secret*", "*password*", "*signature*",
	"*api_key*", "*api-key*", "*apikey*", "sig",
}

// sensitiveField is one parsed entry of a sensitive list.
type sensitiveField struct {
	part string // "headers", "query" or "body"
	// name is the lower-case name pattern of a header or query parameter.
	name string
	// path is the body path; empty for the whole body.
	path []string
}

// parseSensitive parses one entry of a sensitive list.
func parseSensitive(s string) (sensitiveField, error) {
	const forms = "use headers.<name>, query.<name>, body.<path> or a header name"
	part, rest, dotted := strings.Cut(s, ".")
	switch {
	case s == "":
		return sensitiveField{}, fmt.Errorf("an entry is empty; %s", forms)
	case s == "body":
		return sensitiveField{part: "body"}, nil
	case !dotted:
		if !httpguts.ValidHeaderFieldName(s) {
			return sensitiveField{}, fmt.Errorf("%q is not a header name; %s", s, forms)
		}
		return sensitiveField{part: "headers", name: strings.ToLower(s)}, nil
	}
	switch part {
	case "headers":
		if !httpguts.ValidHeaderFieldName(rest) {
			return sensitiveField{}, fmt.Errorf("%q: %q is not a header name", s, rest)
		}
		return sensitiveField{part: part, name: strings.ToLower(rest)}, nil
	case "query":
		if rest == "" {
			return sensitiveField{}, fmt.Errorf("%q names no query parameter", s)
		}
		return sensitiveField{part: part, name: strings.ToLower(rest)}, nil
	case "body":
		path := strings.Split(rest, ".")
		for _, seg := range path {
			if seg == "" {
				return sensitiveField{}, fmt.Errorf("%q has an empty segment in its body path", s)
			}
		}
		return sensitiveField{part: part, path: path}, nil
	}
	return sensitiveField{}, fmt.Errorf("%q: unknown part %q; %s", s, part, forms)
}

// MaskRequest masks the values of the trigger's sensitive headers, query
// parameters and body fields, and of the default sensitive headers and
// query parameters, as "***". Header names in headers must be lower case.
// headers, query and the maps and lists of body are changed in place; the
// body is returned because the entry "body" replaces it whole.
func (t *Trigger) MaskRequest(headers, query map[string]string, body any) any {
	for name := range headers {
		if matchesAny(DefaultSensitiveHeaders, name) || t.sensitiveName("headers", name) {
			headers[name] = sdk.Masked
		}
	}
	for name := range query {
		lower := strings.ToLower(name)
		if matchesAny(DefaultSensitiveQuery, lower) || t.sensitiveName("query", lower) {
			query[name] = sdk.Masked
		}
	}
	for _, f := range t.sensitive {
		if f.part == "body" {
			body = maskPath(body, f.path)
		}
	}
	return body
}

func (t *Trigger) sensitiveName(part, name string) bool {
	for _, f := range t.sensitive {
		if f.part == part && glob(f.name, name) {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if glob(p, name) {
			return true
		}
	}
	return false
}

// maskPath replaces the values at path in v with "***".
func maskPath(v any, path []string) any {
	if len(path) == 0 {
		if v == nil {
			return nil
		}
		return sdk.Masked
	}
	seg, rest := path[0], path[1:]
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if glob(seg, k) {
				x[k] = maskPath(val, rest)
			}
		}
	case []any:
		if seg == "*" {
			for i, val := range x {
				x[i] = maskPath(val, rest)
			}
		} else if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
			x[i] = maskPath(x[i], rest)
		}
	}
	return v
}

// glob reports whether name matches pattern, in which * matches any run of
// characters. It allocates nothing: every header, query parameter and body
// key of every webhook request is matched against the sensitive patterns.
func glob(pattern, name string) bool {
	prefix, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == name
	}
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	name = name[len(prefix):]
	for {
		part, more, wild := strings.Cut(rest, "*")
		if !wild {
			// The last part ends the name.
			return strings.HasSuffix(name, part)
		}
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name, rest = name[i+len(part):], more
	}
}
