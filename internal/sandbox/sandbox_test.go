package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// setupDrop serves a sandbox whose "echo" fake counts what it handles and
// answers 200, with fault f installed.
func setupDrop(t *testing.T, f Fault) (*Sandbox, *httptest.Server, *atomic.Int64) {
	t.Helper()
	var handled atomic.Int64
	s := New()
	s.Mount("echo", "/echo", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		handled.Add(1)
		WriteJSON(w, http.StatusOK, map[string]bool{"sent": true})
	}))
	s.AddFault(f)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv, &handled
}

func TestDropCloseAcceptsThenLosesTheAnswer(t *testing.T) {
	t.Parallel()
	s, srv, handled := setupDrop(t, Fault{Provider: "echo", Drop: DropClose, Ratio: 0.2})
	var dropped, answered int
	for range 20 {
		resp, err := http.Post(srv.URL+"/echo/send", "application/json", strings.NewReader(`{"n":1}`))
		if err != nil {
			dropped++
			continue
		}
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		answered++
	}
	require.Equal(t, 4, dropped, "ratio 0.2 drops one request in five")
	require.Equal(t, 16, answered)
	require.EqualValues(t, 20, handled.Load(), "the fake handles every request, dropped or not")
	var recorded int
	for _, r := range s.Requests("echo") {
		require.Equal(t, http.StatusOK, r.Status, "a dropped request keeps the fake's status")
		if r.Dropped {
			recorded++
		}
	}
	require.Equal(t, 4, recorded, "each dropped request is marked")
}

func TestDropHangHoldsUntilTheClientGivesUp(t *testing.T) {
	t.Parallel()
	s, srv, handled := setupDrop(t, Fault{Provider: "echo", Drop: DropHang, Count: 1})
	client := &http.Client{Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := client.Post(srv.URL+"/echo/send", "application/json", strings.NewReader(`{}`))
	require.Error(t, err, "the client hears nothing back")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the client gave up on its own timeout")
	require.EqualValues(t, 1, handled.Load(), "the fake handled the request")
	resp, err := client.Post(srv.URL+"/echo/send", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err, "count 1 drops only the first")
	resp.Body.Close()
	waitRecorded(t, s, 2)
	require.True(t, s.Requests("echo")[0].Dropped)
}

func TestAddFaultRefusesAnUnknownDrop(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New())
	t.Cleanup(srv.Close)
	for _, body := range []string{`{"drop": "sometimes"}`, `{"ratio": 1.5}`, `{"verb": "POST"}`} {
		resp, err := http.Post(srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	}
	resp, err := http.Post(srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(`{"drop": "close", "ratio": 0.2}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

// waitRecorded waits until s holds n requests.
func waitRecorded(t *testing.T, s *Sandbox, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Requests("")) < n {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %d recorded requests", n)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDropLoseKeepsTheRequestFromTheFake(t *testing.T) {
	t.Parallel()
	s, srv, handled := setupDrop(t, Fault{Provider: "echo", Method: http.MethodPost, Drop: DropLose})
	_, err := http.Post(srv.URL+"/echo/send", "application/json", strings.NewReader(`{}`))
	require.Error(t, err, "the client hears nothing back")
	resp, err := http.Get(srv.URL + "/echo/list")
	require.NoError(t, err, "the fault's method is POST only")
	resp.Body.Close()
	require.EqualValues(t, 1, handled.Load(), "the fake never got the POST")
	waitRecorded(t, s, 2)
	r := s.Requests("echo")[0]
	require.True(t, r.Dropped)
	require.Zero(t, r.Status)
}
