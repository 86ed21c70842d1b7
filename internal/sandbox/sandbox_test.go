package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// listing is GET /_sandbox/requests.
type listing struct {
	Requests  []RecordedRequest `json:"requests"`
	Count     int               `json:"count"`
	Forgotten int64             `json:"forgotten"`
}

func TestKeepBoundsTheRecord(t *testing.T) {
	for _, tc := range []struct {
		keep, send   int
		wantFirstSeq int64
		wantCount    int
	}{
		{keep: 0, send: 25, wantFirstSeq: 1, wantCount: 25},
		{keep: 10, send: 9, wantFirstSeq: 1, wantCount: 9},
		{keep: 10, send: 25, wantFirstSeq: 16, wantCount: 10},
		{keep: 10, send: 41, wantFirstSeq: 32, wantCount: 10},
	} {
		s := New()
		s.Keep = tc.keep
		s.Mount("echo", "/echo", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		srv := httptest.NewServer(s)
		post := func() {
			resp, err := http.Post(srv.URL+"/echo/send", "application/json", strings.NewReader(`{"n":1}`))
			require.NoError(t, err)
			resp.Body.Close()
		}
		list := func() listing {
			resp, err := http.Get(srv.URL + "/_sandbox/requests")
			require.NoError(t, err)
			defer resp.Body.Close()
			var l listing
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
			return l
		}
		for range tc.send {
			post()
		}
		l := list()
		require.Equal(t, tc.wantCount, l.Count, "keep %d, sent %d", tc.keep, tc.send)
		require.Len(t, l.Requests, tc.wantCount)
		require.Equal(t, tc.wantFirstSeq, l.Requests[0].Seq, "the newest are kept")
		require.Equal(t, int64(tc.send), l.Requests[len(l.Requests)-1].Seq)
		require.Equal(t, int64(tc.send-tc.wantCount), l.Forgotten)

		req, err := http.NewRequest(http.MethodDelete, srv.URL+"/_sandbox/requests", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		post()
		l = list()
		require.Equal(t, 1, l.Count)
		require.Equal(t, int64(0), l.Forgotten, "clearing is not forgetting")
		srv.Close()
	}
}
