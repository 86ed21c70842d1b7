package sdk

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// h1Answers are raw answers read both by readH1Response and by
// http.ReadResponse; fast marks those the direct parser must read itself.
var h1Answers = []struct {
	raw  string
	fast bool
}{
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 07 Dec 2026 21:00:00 GMT\r\nContent-Length: 30\r\n\r\n{\"sent\":true,\"id\":\"x\"}        ", true},
	{"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", true},
	{"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}", true},
	{"HTTP/1.1 200  Two spaces \r\nContent-Length: 2\r\n\r\n{}", true},
	{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", true},
	{"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nx-odd-KEY: v\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nset-cookie: c=3\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Empty:\r\nX-Spaces: \t padded \t \r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-High: caf\xc3\xa9 \xff\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 3\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 3\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\nContent-Length: 3\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\nabcdefg", true},
	{"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", true},
	{"HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n3\r\nabc\r\n0\r\n\r\nnext", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nbad trailer\r\n\r\n", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n", true},

	// Left to net/http.
	{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", false},
	{"HTTP/1.0 200 OK\r\n\r\nuntil close", false},
	{"HTTP/1.1 200 OK\r\n\r\nuntil close", false},
	{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc", false},
	{"HTTP/1.1 304 Not Modified\r\n\r\n", false},
	{"HTTP/1.1 099 Low\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 20 Short\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 2000 Long\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 O\x01K\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1  200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/2 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n folded\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\n Content-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nBad\x01Key: 1\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\n: empty key\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nNo colon\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX-Cr: a\rb\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", false},
	{"HTTP/1.1 200 OK", false},
	{"", false},
	{"garbage\r\n\r\n", false},
}

// h1Outcome is everything a caller can see of a response read from raw:
// the answer's fields, its body and how the body ended, the trailer, and
// what is left on the stream after it.
func h1Outcome(read func(*bufio.Reader, *http.Request) (*http.Response, error), raw []byte, method string) string {
	br := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	req, _ := http.NewRequest(method, "http://example.invalid/x", nil)
	resp, err := read(br, req)
	if err != nil {
		return "error: " + err.Error()
	}
	body, berr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	rest, _ := io.ReadAll(br)
	return fmt.Sprintf("status %q %d %q %d.%d\nheader %q\nlength %d te %q close %v noBody %v\nbody %q err %v\ntrailer %q\nrequest %v\nrest %q",
		resp.Status, resp.StatusCode, resp.Proto, resp.ProtoMajor, resp.ProtoMinor,
		map[string][]string(resp.Header), resp.ContentLength, resp.TransferEncoding, resp.Close, resp.Body == http.NoBody,
		body, berr, map[string][]string(resp.Trailer), resp.Request == req, rest)
}

func TestReadH1ResponseIsReadResponse(t *testing.T) {
	for _, a := range h1Answers {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
			got := h1Outcome(readH1Response, []byte(a.raw), method)
			want := h1Outcome(http.ReadResponse, []byte(a.raw), method)
			if got != want {
				t.Errorf("%s answered %q:\ndirect:\n%s\nnet/http:\n%s", method, a.raw, got, want)
			}
		}
	}
}

// TestParseH1ResponseTakesCommonAnswers checks which answers the direct
// parser reads itself, and that it leaves the stream as it found it when
// it does not.
func TestParseH1ResponseTakesCommonAnswers(t *testing.T) {
	for _, a := range h1Answers {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
			br := bufio.NewReaderSize(bytes.NewReader([]byte(a.raw)), 4096)
			_, _ = br.Peek(1)
			before := br.Buffered()
			req, _ := http.NewRequest(method, "http://example.invalid/x", nil)
			_, ok := parseH1Response(br, req)
			if want := a.fast && method != http.MethodHead; ok != want {
				t.Errorf("%s answered %q: parsed directly %v, want %v", method, a.raw, ok, want)
			}
			if !ok && br.Buffered() != before {
				t.Errorf("%s answered %q: %d bytes consumed before falling back", method, a.raw, before-br.Buffered())
			}
		}
	}
}

// TestReadH1ResponseAllocations holds the direct parser to its few
// allocations for a provider's usual answer: the header's text, its map
// (two), and the response with its body and values; http.ReadResponse
// makes ten.
func TestReadH1ResponseAllocations(t *testing.T) {
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 07 Dec 2026 21:00:00 GMT\r\nContent-Length: 22\r\n\r\n{\"sent\":true,\"id\":\"x\"}")
	req, _ := http.NewRequest(http.MethodPost, "http://example.invalid/x", nil)
	src := bytes.NewReader(raw)
	br := bufio.NewReaderSize(nil, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(raw)
		br.Reset(src)
		if _, err := readH1Response(br, req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("readH1Response allocates %v times a response, want at most 4", allocs)
	}
}

func BenchmarkReadH1Response(b *testing.B) {
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 07 Dec 2026 21:00:00 GMT\r\nContent-Length: 22\r\n\r\n{\"sent\":true,\"id\":\"x\"}")
	req, _ := http.NewRequest(http.MethodPost, "http://example.invalid/x", nil)
	for _, read := range []struct {
		name string
		fn   func(*bufio.Reader, *http.Request) (*http.Response, error)
	}{{"direct", readH1Response}, {"net-http", http.ReadResponse}} {
		b.Run(read.name, func(b *testing.B) {
			src := bytes.NewReader(raw)
			br := bufio.NewReaderSize(nil, 4096)
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(raw)
				br.Reset(src)
				resp, err := read.fn(br, req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
			}
		})
	}
}

// FuzzReadH1Response holds readH1Response to http.ReadResponse on any
// bytes: the same answer, body, trailer and rest of the stream, or the same
// error.
func FuzzReadH1Response(f *testing.F) {
	for _, a := range h1Answers {
		f.Add([]byte(a.raw), uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw []byte, m uint8) {
		method := []string{http.MethodGet, http.MethodPost, http.MethodHead}[int(m)%3]
		got := h1Outcome(readH1Response, raw, method)
		want := h1Outcome(http.ReadResponse, raw, method)
		if got != want {
			t.Fatalf("%s answered %q:\ndirect:\n%s\nnet/http:\n%s", method, raw, got, want)
		}
	})
}
