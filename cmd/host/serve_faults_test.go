package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// request sends one request to the served API and returns the response,
// its body read.
func (e *serveEnv) request(method, path string, body []byte) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, string(b)
}

// succeeded counts the succeeded runs of workflow, read through the API.
func (e *serveEnv) succeeded(workflow string) int {
	e.t.Helper()
	resp, out := e.request("GET", "/api/v1/runs?workflow="+workflow, nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, out)
	var list struct {
		Runs []apiRun `json:"runs"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(out), &list), out)
	n := 0
	for _, r := range list.Runs {
		if r.Status == "succeeded" {
			n++
		}
	}
	return n
}

// TestServeLockedOrDamagedStore is a store that takes no writes while
// herald serve runs: first another process holds SQLite's write lock past
// the busy timeout, then the file is damaged. Webhooks get 503 with
// Retry-After (senders retry) rather than 500, /readyz reports not ready
// (a load balancer stops sending), and the log says so once per outage.
func TestServeLockedOrDamagedStore(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "hook" {
  trigger "webhook" {
    path = "alerts"
  }
  step "s" {
    uses = "chatapi.status"
  }
}`)
	dbPath := filepath.Join(e.dir, "state", "herald.db")
	e.args = []string{"--store", "sqlite://" + filepath.ToSlash(dbPath) + "?busy_timeout=300ms"}
	e.start()
	body := []byte(`{"text":"disk full"}`)
	resp, out := e.request("POST", "/hooks/alerts", body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, out)
	e.eventually(10*time.Second, "the first run finished", func() bool { return e.succeeded("hook") == 1 })

	// Another process holds the write lock.
	db, err := sql.Open("sqlite", "file:"+dbPath)
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), `BEGIN EXCLUSIVE`)
	require.NoError(t, err)
	for range 3 {
		resp, out = e.request("POST", "/hooks/alerts", body)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, out)
		require.Equal(t, "5", resp.Header.Get("Retry-After"))
		require.Contains(t, out, "the store is unavailable; try again later")
		resp, out = e.request("GET", "/readyz", nil)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, out)
		require.Contains(t, out, "database is locked")
	}
	_, err = conn.ExecContext(t.Context(), `ROLLBACK`)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	resp, out = e.request("GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "ready again once the lock is released: %s", out)
	resp, out = e.request("POST", "/hooks/alerts", body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, out)
	e.eventually(10*time.Second, "the second run finished", func() bool { return e.succeeded("hook") == 2 })

	// The file is damaged: SQLite's checkpoint moved the WAL into it, then
	// its pages were overwritten. The checkpoint is tried again while
	// herald's own readers or background checkpointer are busy with the
	// WAL (it answers busy then).
	e.eventually(10*time.Second, "the WAL was checkpointed into the file", func() bool {
		var busy, logged, moved int
		require.NoError(t, db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &moved))
		return busy == 0
	})
	require.NoError(t, db.Close())
	info, err := os.Stat(dbPath)
	require.NoError(t, err)
	const page = 4096
	f, err := os.OpenFile(dbPath, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xA5}, int(info.Size())-page), page)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	resp, out = e.request("POST", "/hooks/alerts", body)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, out)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	resp, out = e.request("GET", "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, out)
	require.Contains(t, out, "malformed")

	e.stop()
	log := e.log.String()
	require.Equal(t, 2, strings.Count(log, "store unavailable: it takes no writes"), "one line per outage:\n%s", log)
	require.Equal(t, 1, strings.Count(log, "store available again"), "one line when the first ended:\n%s", log)
	require.NotContains(t, log, "start run failed", "no line per refused request:\n%s", log)
}
