package sdk

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// requestTargets are URLs a provider may send to, odd ones included.
var requestTargets = []string{
	"https://api.chat-api.com/instance229607/sendMessage?token=abc123",
	"http://127.0.0.1:8080/hooks/x",
	"http://example.com:/empty-port",
	"http://user:pa%20ss@example.com/p%2Fq?x=1#frag",
	"http://[::1]:80/v6",
	"http://example.com/a b",
	"mailto:someone@example.com",
	"https://example.com/%zz",
	"://no-scheme",
	"",
	"http://example.com/\x7f",
}

// TestNewRequestIsNewRequestWithContext holds newRequest, on the first
// request to a target and on the ones that reuse its parsed URL, to
// http.NewRequestWithContext with the header set and, for a request that
// changes something, GetBody dropped.
func TestNewRequestIsNewRequestWithContext(t *testing.T) {
	t.Parallel()
	for _, target := range requestTargets {
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "", "get", "PRO PFIND", "REPORT"} {
			for _, payload := range [][]byte{nil, {}, []byte(`{"a":1}`)} {
				for _, changes := range []bool{false, true} {
					requireSameRequest(t, target, method, payload, changes)
				}
			}
		}
	}
}

// FuzzNewRequest holds newRequest to http.NewRequestWithContext on any
// target, method and body.
func FuzzNewRequest(f *testing.F) {
	for _, target := range requestTargets {
		f.Add(target, "POST", []byte(`{"phone":"1"}`), true, false)
	}
	f.Add("http://h/", "GET", []byte(nil), false, true)
	f.Fuzz(func(t *testing.T, target, method string, payload []byte, changes, nilPayload bool) {
		if nilPayload {
			payload = nil
		}
		requireSameRequest(t, target, method, payload, changes)
	})
}

type requestKey struct{}

func requireSameRequest(t *testing.T, target, method string, payload []byte, changes bool) {
	t.Helper()
	ctx := context.WithValue(context.Background(), requestKey{}, target)
	var last atomic.Pointer[lastTarget]
	// The first request parses target; the next ones reuse it, and another
	// target's request does not.
	for i, prior := range []string{"", target, target, "http://other.example/"} {
		if prior != "" {
			last.Store(&lastTarget{target: prior})
			if prior == target {
				last.Store(nil)
				_, _ = newRequest(ctx, &last, http.MethodGet, target, nil, http.Header{}, false)
			}
		}
		var body io.Reader
		if payload != nil {
			body = strings.NewReader(string(payload))
		}
		want, wantErr := http.NewRequestWithContext(ctx, method, target, body)
		cached := last.Load()
		header := http.Header{"X-Call": {"1"}}
		got, err := newRequest(ctx, &last, method, target, payload, header, changes)
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error(), "round %d", i)
			continue
		}
		require.NoError(t, err, "round %d", i)
		require.Same(t, ctx, got.Context())
		require.Equal(t, header, got.Header)
		if cached != nil && cached.target == target {
			require.NotSame(t, &cached.url, got.URL, "the kept URL is copied")
			if cached.url.User != nil {
				require.NotSame(t, cached.url.User, got.URL.User)
			}
		}
		requireSameBody(t, want, got, changes)
		w := *want
		w.Header, w.Body, w.GetBody = header, nil, nil
		g := *got
		g.Body, g.GetBody = nil, nil
		require.Equal(t, w.WithContext(ctx), g.WithContext(ctx), "round %d", i)
	}
}

// requireSameBody checks got's Body and GetBody against want's, GetBody
// being dropped when the request changes something.
func requireSameBody(t *testing.T, want, got *http.Request, changes bool) {
	t.Helper()
	read := func(rc io.ReadCloser) string {
		t.Helper()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		return string(b)
	}
	require.Equal(t, want.Body == nil, got.Body == nil)
	require.Equal(t, want.Body == http.NoBody, got.Body == http.NoBody)
	if want.GetBody != nil && !changes {
		require.NotNil(t, got.GetBody)
		wb, err := want.GetBody()
		require.NoError(t, err)
		for range 2 {
			gb, err := got.GetBody()
			require.NoError(t, err)
			require.Equal(t, read(wb), read(gb))
			wb, _ = want.GetBody()
		}
	} else {
		require.Nil(t, got.GetBody)
	}
	if want.Body != nil {
		require.Equal(t, read(want.Body), read(got.Body))
	}
}

// TestNewRequestReusesTheParsedURL checks that a request to the last
// target costs three allocations (its URL, its body, the request), where
// http.NewRequestWithContext parses the URL again and makes six.
func TestNewRequestReusesTheParsedURL(t *testing.T) {
	ctx := context.Background()
	target := "https://api.chat-api.com/instance229607/sendMessage?token=abc123"
	payload := []byte(`{"phone":"14155550123"}`)
	header := http.Header{}
	var last atomic.Pointer[lastTarget]
	_, err := newRequest(ctx, &last, http.MethodPost, target, payload, header, true)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := newRequest(ctx, &last, http.MethodPost, target, payload, header, true); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 3.0)
}
