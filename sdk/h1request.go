package sdk

import (
	"bufio"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
)

// h1Request is what h1Transport checked of a request it can send itself.
type h1Request struct {
	method string
	// host is the Host header, addr the address dialled (host:port).
	host, addr string
	// uri and, when hasQuery, "?" and query are the request URI.
	uri, query string
	hasQuery   bool
	https      bool
	// length is the body's Content-Length; the body is absent when 0.
	length int64
	// gzip is set when the transport asks for a gzipped answer itself, as
	// net/http does when the request names no Accept-Encoding or Range.
	gzip bool
}

// h1Prepare checks that req is a plain HTTP/1.1 request h1Transport writes
// byte for byte as net/http's Transport would, and returns what it needs to
// send it. Anything else (chunked or unknown-length bodies, trailers,
// Expect, Upgrade, Connection headers, CONNECT, non-ASCII hosts, header
// names or values net/http refuses) is left to net/http: ok is false.
func h1Prepare(req *http.Request, compress bool) (r h1Request, ok bool) {
	return h1PrepareWith(req, compress, nil)
}

// h1Target is what h1Prepare takes from a request's URL: the same for every
// request to that URL.
type h1Target struct {
	url        url.URL
	https      bool
	addr       string
	uri, query string
	hasQuery   bool
}

// h1PrepareWith is h1Prepare keeping, in last when not nil, what it took
// from the last URL it accepted (one without user information), for the
// next request to the same URL: a provider sends to the same few URLs, and
// their checks, address and escaped path are the same each time.
func h1PrepareWith(req *http.Request, compress bool, last *atomic.Pointer[h1Target]) (r h1Request, ok bool) {
	u := req.URL
	if u == nil || req.Cancel != nil || len(req.TransferEncoding) > 0 || req.Trailer != nil {
		return r, false
	}
	var t *h1Target
	if last != nil {
		if kept := last.Load(); kept != nil && u.User == nil && *u == kept.url {
			t = kept
		}
	}
	if t == nil {
		if t, ok = h1PrepareURL(u); !ok {
			return r, false
		}
		if last != nil && u.User == nil {
			last.Store(t)
		}
	}
	r.https, r.addr, r.uri, r.query, r.hasQuery = t.https, t.addr, t.uri, t.query, t.hasQuery
	r.method = req.Method
	if r.method == "" {
		r.method = http.MethodGet
	}
	if r.method == http.MethodConnect || !httpguts.ValidHeaderFieldName(r.method) {
		return r, false
	}
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		if req.ContentLength != 0 {
			return r, false
		}
	case req.ContentLength > 0:
		r.length = req.ContentLength
	default:
		return r, false // net/http would send it chunked
	}
	r.host = req.Host
	if r.host == "" {
		r.host = u.Host
	}
	// u.Host is checked with the URL.
	if r.host != u.Host && !h1Host(r.host) {
		return r, false
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return r, false
		}
		// k is a token (ASCII): equal to a name but for case is what
		// http.CanonicalHeaderKey(k) == name would say.
		if strings.EqualFold(k, "Expect") || strings.EqualFold(k, "Upgrade") || strings.EqualFold(k, "Connection") {
			return r, false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return r, false
			}
		}
	}
	r.gzip = compress && r.method != http.MethodHead && headerValue(req.Header, "Accept-Encoding") == "" && headerValue(req.Header, "Range") == ""
	return r, true
}

// h1PrepareURL checks the URL part of h1Prepare: a plain http or https URL
// with an ASCII host, and a request URI without control bytes.
func h1PrepareURL(u *url.URL) (*h1Target, bool) {
	if u.Host == "" {
		return nil, false
	}
	t := &h1Target{url: *u}
	switch u.Scheme {
	case "http":
	case "https":
		t.https = true
	default:
		return nil, false
	}
	if !h1Host(u.Host) {
		return nil, false
	}
	hostname, port := u.Hostname(), u.Port()
	if hostname == "" {
		return nil, false
	}
	if port == "" {
		port = "80"
		if t.https {
			port = "443"
		}
	}
	t.addr = joinHostPort(hostname, port)
	// The request URI is u.RequestURI(), kept in two parts (the path and
	// the query) so as not to join them into a new string.
	if u.Opaque == "" {
		t.uri = u.EscapedPath()
		if t.uri == "" {
			t.uri = "/"
		}
		if u.ForceQuery || u.RawQuery != "" {
			t.query, t.hasQuery = u.RawQuery, true
		}
	} else {
		t.uri = u.RequestURI()
	}
	if hasCTL(t.uri) || hasCTL(t.query) {
		return nil, false
	}
	return t, true
}

// hasCTL reports whether s holds an ASCII control byte (DEL included).
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// joinHostPort is net.JoinHostPort without its allocation for the common
// case of a host that is not an IPv6 literal.
func joinHostPort(host, port string) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// h1Host reports whether a Host header is plain ASCII net/http sends as it
// is: no IDN to convert, no IPv6 zone to remove, no byte it would refuse.
func h1Host(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~:[]!$&'()*+,;=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// h1SkipHeader are the header keys net/http's request writer leaves out of
// the header map: it writes them itself or not at all.
func h1SkipHeader(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// writeHeader writes the request line and header of req as net/http's
// Transport does: Host, User-Agent, Connection: close, Content-Length, the
// header map sorted by key, then Accept-Encoding when the transport asks
// for gzip itself.
func (r *h1Request) writeHeader(bw *bufio.Writer, req *http.Request) {
	bw.WriteString(r.method)
	bw.WriteByte(' ')
	bw.WriteString(r.uri)
	if r.hasQuery {
		bw.WriteByte('?')
		bw.WriteString(r.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.host)
	bw.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if _, ok := req.Header["User-Agent"]; ok {
		ua = textproto.TrimString(headerValue(req.Header, "User-Agent"))
	}
	if ua != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}
	if req.Close {
		bw.WriteString("Connection: close\r\n")
	}
	if r.length > 0 || r.method == http.MethodPost || r.method == http.MethodPut || r.method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		// Written in the buffer's free space: a local array would escape
		// through Write.
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), r.length, 10))
		bw.WriteString("\r\n")
	}
	var stack [16]string
	keys := stack[:0]
	for k := range req.Header {
		if !h1SkipHeader(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	if r.gzip {
		bw.WriteString("Accept-Encoding: gzip\r\n")
	}
	bw.WriteString("\r\n")
}
