package sdk

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"

	"golang.org/x/net/http/httpguts"
)

// readH1Response reads the answer to req from br as http.ReadResponse
// does. An answer whose whole header is already buffered and has the
// common shape (see parseH1Response) is parsed directly, with a handful of
// allocations where ReadResponse makes a string and a slice per header
// line and a reader per layer of the body; anything else goes to
// http.ReadResponse, which finds br as it was.
func readH1Response(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil {
			// Nothing came: ReadResponse's first line fails with this
			// read's error, as here.
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if resp, ok := parseH1Response(br, req); ok {
		return resp, nil
	}
	return http.ReadResponse(br, req)
}

// parseH1Response parses the answer to req from the bytes br has buffered
// and consumes its header, when the answer is one it is sure to read as
// http.ReadResponse does: a whole header in the buffer, an HTTP/1.1 status
// line with a final status (200 to 999 but 204 and 304, to a request other
// than HEAD) and a reason of printable ASCII, header lines of a token, a
// colon and a value (no line folding, CRLF line ends), and a body framed by
// a single Content-Length or by a single "Transfer-Encoding: chunked"
// without one. A Trailer header, several Content-Length or
// Transfer-Encoding lines, or no framing at all (a body read until the
// connection closes) are left to it. When ok
// is false, br is untouched.
func parseH1Response(br *bufio.Reader, req *http.Request) (resp *http.Response, ok bool) {
	if req.Method == http.MethodHead {
		return nil, false
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, crlf2)
	if end < 0 {
		return nil, false
	}
	head := buf[:end+2] // every line with its CRLF
	status, rest, found := bytes.Cut(head, crlf)
	if !found || !h1StatusLine(status) {
		return nil, false
	}
	code := int(status[9]-'0')*100 + int(status[10]-'0')*10 + int(status[11]-'0')
	if code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false
	}
	// One string holds the status line and the header: the status, keys
	// already in canonical form and values are slices of it.
	text := string(head)
	header := make(http.Header, bytes.Count(rest, crlf))
	a := new(h1Answer)
	values := a.values[:]
	for pos := len(status) + 2; pos < len(text); {
		// The key: token bytes up to the colon.
		start := pos
		canonical, upper := true, true
		for ; text[pos] != ':'; pos++ {
			c := text[pos]
			if !h1Token[c] {
				return nil, false // a CR too: every line has its colon
			}
			if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
				canonical = false
			}
			upper = c == '-'
		}
		if pos == start {
			return nil, false
		}
		key := text[start:pos]
		if !canonical {
			key = h1CanonicalKey(key)
		}
		// The value: up to the CR of the line's CRLF (head ends in one),
		// without the spaces and tabs around it.
		pos++
		for text[pos] == ' ' || text[pos] == '\t' {
			pos++
		}
		from, to := pos, pos
		for ; text[pos] != '\r'; pos++ {
			c := text[pos]
			if !h1ValueByte(c) {
				return nil, false
			}
			if c != ' ' && c != '\t' {
				to = pos + 1
			}
		}
		if text[pos+1] != '\n' {
			return nil, false
		}
		pos += 2
		value := text[from:to]
		if vv, seen := header[key]; seen {
			header[key] = append(vv, value)
			continue
		}
		if len(values) == 0 {
			values = make([]string, 8)
		}
		vv := values[:1:1]
		values = values[1:]
		vv[0] = value
		header[key] = vv
	}
	if _, ok := header["Trailer"]; ok {
		return nil, false
	}
	resp = &a.resp
	*resp = http.Response{
		Status:     text[9:len(status)],
		StatusCode: code,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Request:    req,
	}
	if te, ok := header["Transfer-Encoding"]; ok {
		// net/http checks a Content-Length beside it before dropping it.
		if _, cl := header["Content-Length"]; cl || len(te) != 1 || te[0] != "chunked" {
			return nil, false
		}
		delete(header, "Transfer-Encoding")
		resp.TransferEncoding = []string{"chunked"}
		resp.ContentLength = -1
		resp.Body = &h1ChunkedBody{br: br, cr: httputil.NewChunkedReader(br), resp: resp}
	} else {
		cl := header["Content-Length"]
		if len(cl) != 1 {
			return nil, false
		}
		n, ok := h1ContentLength(cl[0])
		if !ok {
			return nil, false
		}
		resp.ContentLength = n
		resp.Body = http.NoBody
		if n > 0 {
			a.body = h1LengthBody{lr: io.LimitedReader{R: br, N: n}}
			resp.Body = &a.body
		}
	}
	if conn, ok := header["Connection"]; ok && httpguts.HeaderValuesContainsToken(conn, "close") {
		delete(header, "Connection")
		resp.Close = true
	}
	// As ReadResponse's fixPragmaCacheControl.
	if p := header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	_, _ = br.Discard(end + 4)
	return resp, true
}

// h1Answer holds what parseH1Response makes of an answer in one
// allocation: the response, a Content-Length body and the values of up to
// eight header lines.
type h1Answer struct {
	resp   http.Response
	body   h1LengthBody
	values [8]string
}

var (
	crlf  = []byte("\r\n")
	crlf2 = []byte("\r\n\r\n")
)

// h1StatusLine reports whether line is "HTTP/1.1 ddd" with a final status
// (2xx to 9xx), alone or followed by a space and a reason of printable
// ASCII.
func h1StatusLine(line []byte) bool {
	if len(line) < 12 || string(line[:9]) != "HTTP/1.1 " ||
		line[9] < '2' || line[9] > '9' || !isDigit(line[10]) || !isDigit(line[11]) {
		return false
	}
	if len(line) == 12 {
		return true
	}
	if line[12] != ' ' {
		return false
	}
	for _, c := range line[13:] {
		if c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// h1ValueByte is net/textproto's rule for a byte of a header value: any
// but the controls other than tab.
func h1ValueByte(c byte) bool {
	return c == '\t' || (c >= ' ' && c != 0x7f)
}

// h1CanonicalKey returns the canonical form of k, a header key of token
// bytes not in canonical form, as net/textproto writes it: a shared string
// for the common keys.
func h1CanonicalKey(k string) string {
	if len(k) <= 64 {
		var b [64]byte
		n := copy(b[:], k)
		h1Canonicalize(b[:n])
		if v, ok := h1CommonKeys[string(b[:n])]; ok {
			return v
		}
		return string(b[:n])
	}
	b := []byte(k)
	h1Canonicalize(b)
	return string(b)
}

// h1Token holds the bytes of an HTTP token, those of a header key.
var h1Token = func() (t [256]bool) {
	for c := range t {
		t[c] = httpguts.IsTokenRune(rune(c))
	}
	return t
}()

// h1Canonicalize puts the ASCII key b in canonical form: upper case first
// and after each dash, lower case elsewhere.
func h1Canonicalize(b []byte) {
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
}

// h1CommonKeys are the keys of answers a provider sends in lower case
// (as HTTP/2 front ends forward them), shared instead of made for each
// answer.
var h1CommonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Origin", "Age", "Cache-Control", "Connection",
		"Content-Encoding", "Content-Length", "Content-Type", "Date", "Etag", "Expires",
		"Keep-Alive", "Last-Modified", "Location", "Pragma", "Retry-After", "Server",
		"Set-Cookie", "Strict-Transport-Security", "Transfer-Encoding", "Vary", "Via",
		"X-Content-Type-Options", "X-Frame-Options", "X-Request-Id",
	} {
		m[k] = k
	}
	return m
}()

// h1ContentLength parses a Content-Length value as net/http does (decimal
// digits within 63 bits); ok is false for anything else, net/http's error.
func h1ContentLength(v string) (n int64, ok bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// h1LengthBody is a body of Content-Length bytes, read as net/http's body
// reads one: an early end of the stream is io.ErrUnexpectedEOF, and the
// read that takes the last byte reports io.EOF with it.
type h1LengthBody struct {
	lr     io.LimitedReader
	sawEOF bool
}

func (b *h1LengthBody) Read(p []byte) (int, error) {
	if b.sawEOF {
		return 0, io.EOF
	}
	n, err := b.lr.Read(p)
	if err == io.EOF {
		b.sawEOF = true
		if b.lr.N > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil && n > 0 && b.lr.N == 0 {
		err = io.EOF
		b.sawEOF = true
	}
	return n, err
}

func (b *h1LengthBody) Close() error { return nil }

// errTrailerEOF is net/http's error for a stream that ends in a chunked
// body's trailer.
var errTrailerEOF = errors.New("http: unexpected EOF reading trailer")

// h1ChunkedBody is a chunked body, read as net/http's body reads one: the
// trailer after the last chunk is read (and merged into the answer's
// Trailer) before the body reports io.EOF.
type h1ChunkedBody struct {
	br     *bufio.Reader
	cr     io.Reader
	resp   *http.Response
	sawEOF bool
	closed bool
}

func (b *h1ChunkedBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		b.sawEOF = true
		if b.resp != nil {
			if e := b.readTrailer(); e != nil {
				err = e
				b.sawEOF = false
				b.closed = true
			}
			b.resp = nil
		}
	}
	return n, err
}

func (b *h1ChunkedBody) Close() error { return nil }

// readTrailer reads the trailer section after the last chunk, as
// net/http's body.readTrailer does.
func (b *h1ChunkedBody) readTrailer() error {
	buf, err := b.br.Peek(2)
	if bytes.Equal(buf, crlf) {
		_, _ = b.br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		return errTrailerEOF
	}
	if err != nil {
		return err
	}
	// A trailer must end within the buffer: Peek until a blank line.
	for size := 4; ; size++ {
		buf, err := b.br.Peek(size)
		if bytes.HasSuffix(buf, crlf2) {
			break
		}
		if err != nil {
			return errors.New("http: suspiciously long trailer after chunked body")
		}
	}
	hdr, err := textproto.NewReader(b.br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			return errTrailerEOF
		}
		return err
	}
	if b.resp.Trailer == nil {
		b.resp.Trailer = http.Header(hdr)
	} else {
		for k, v := range hdr {
			b.resp.Trailer[k] = v
		}
	}
	return nil
}
