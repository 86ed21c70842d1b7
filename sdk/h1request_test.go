package sdk

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestH1PrepareKeepsTheLastURL holds h1PrepareWith, on a URL it kept from
// the last request and on one it did not, to h1Prepare.
func TestH1PrepareKeepsTheLastURL(t *testing.T) {
	t.Parallel()
	targets := append([]string{
		"http://127.0.0.1:8080/hooks/x?y=1",
		"https://api.chat-api.com/instance229607/sendMessage?token=abc123",
		"https://example.com",
		"http://example.com/?",
		"http://[::1]/v6",
		"http://exa mple.com/",
		"http://example.com:/p",
		"ftp://example.com/",
		"http:opaque",
		"http://user@example.com/",
		"http://bücher.example/",
	}, requestTargets...)
	for _, target := range targets {
		for _, host := range []string{"", "other.example", "bad host"} {
			for _, method := range []string{"GET", "POST", "CONNECT", "BAD METHOD"} {
				for _, payload := range [][]byte{nil, []byte(`{}`)} {
					var last atomic.Pointer[h1Target]
					for _, prior := range []string{"", target, "http://other.example/"} {
						if prior != "" {
							if req, err := http.NewRequest(http.MethodGet, prior, nil); err == nil {
								h1PrepareWith(req, true, &last)
							}
						}
						var body io.Reader
						if payload != nil {
							body = strings.NewReader(string(payload))
						}
						req, err := http.NewRequest(method, target, body)
						if err != nil {
							continue
						}
						req.Host = host
						req.Header.Set("Content-Type", "application/json")
						want, wantOK := h1Prepare(req, true)
						got, gotOK := h1PrepareWith(req, true, &last)
						require.Equal(t, wantOK, gotOK, "%s %s host %q after %q", method, target, host, prior)
						if wantOK {
							require.Equal(t, want, got, "%s %s host %q after %q", method, target, host, prior)
						}
					}
				}
			}
		}
	}
}

// FuzzH1PrepareKeepsTheLastURL holds h1PrepareWith to h1Prepare for a
// request to target after one to prior.
func FuzzH1PrepareKeepsTheLastURL(f *testing.F) {
	f.Add("http://127.0.0.1:8080/hooks/x?y=1", "http://127.0.0.1:8080/hooks/x?y=1", "", "POST")
	f.Add("https://example.com/a%2Fb", "https://example.com/a/b", "h", "GET")
	f.Fuzz(func(t *testing.T, prior, target, host, method string) {
		var last atomic.Pointer[h1Target]
		if req, err := http.NewRequest(http.MethodGet, prior, nil); err == nil {
			h1PrepareWith(req, true, &last)
		}
		req, err := http.NewRequest(method, target, strings.NewReader("{}"))
		if err != nil {
			return
		}
		req.Host = host
		want, wantOK := h1Prepare(req, true)
		got, gotOK := h1PrepareWith(req, true, &last)
		require.Equal(t, wantOK, gotOK)
		if wantOK {
			require.Equal(t, want, got)
		}
	})
}
