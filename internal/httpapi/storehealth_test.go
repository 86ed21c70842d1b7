package httpapi_test

import (
	"bytes"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

// lockedFixture is the API over a real SQLite store with a short busy
// timeout, and its log.
type lockedFixture struct {
	path string
	st   *sqlitestore.Store
	h    http.Handler
	log  *syncBuffer
}

func setupStore(t *testing.T) *lockedFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.db")
	st, err := sqlitestore.OpenWith(t.Context(), path, sqlitestore.Options{BusyTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	log := &syncBuffer{}
	h := httpapi.New(&fakeRuntime{project: loadProject(t), st: st}, httpapi.Options{
		Token:  apiToken,
		Logger: hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Info}),
	})
	return &lockedFixture{path: path, st: st, h: h, log: log}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lockStore takes the write lock of the SQLite file at path from a
// connection of its own, as another process would, until release.
func lockStore(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), `BEGIN EXCLUSIVE`)
	require.NoError(t, err)
	return func() {
		_, err := conn.ExecContext(t.Context(), `ROLLBACK`)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
}

func TestLockedStoreAnswers503UntilReleased(t *testing.T) {
	t.Parallel()
	f := setupStore(t)
	w := serve(f.h, "POST", "/hooks/team/open", strReader(hookBody))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	w = serve(f.h, "GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	release := lockStore(t, f.path)
	for range 3 {
		w = serve(f.h, "POST", "/hooks/team/open", strReader(hookBody))
		require.Equal(t, "start run: the store is unavailable; try again later", errorOf(t, w, http.StatusServiceUnavailable))
		require.Equal(t, "5", w.Header().Get("Retry-After"))

		w = serve(f.h, "POST", "/api/v1/workflows/open/runs", strReader(`{}`), bearer()...)
		msg := errorOf(t, w, http.StatusServiceUnavailable)
		require.Contains(t, msg, "database is locked", "the API, behind its token, says why")
		require.Equal(t, "5", w.Header().Get("Retry-After"))

		w = serve(f.h, "GET", "/readyz", nil)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
		require.Contains(t, w.Body.String(), `"status":"unavailable"`)
		require.Contains(t, w.Body.String(), "store unavailable")
		require.NotEmpty(t, w.Header().Get("Retry-After"))
	}
	w = serve(f.h, "GET", "/api/v1/runs", nil, bearer()...)
	require.Equal(t, http.StatusOK, w.Code, "reads go on: %s", w.Body)

	release()
	w = serve(f.h, "GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = serve(f.h, "POST", "/hooks/team/open", strReader(hookBody))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())

	log := f.log.String()
	require.Equal(t, 1, strings.Count(log, "store unavailable: it takes no writes"), "one line when the outage starts:\n%s", log)
	require.Equal(t, 1, strings.Count(log, "store available again"), "one line when it ends:\n%s", log)
	require.NotContains(t, log, "start run failed", "no line per refused request:\n%s", log)
}

func TestDamagedStoreAnswers503(t *testing.T) {
	t.Parallel()
	f := setupStore(t)
	for range 10 {
		w := serve(f.h, "POST", "/hooks/team/open", strReader(hookBody))
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	}
	corruptStore(t, f.path)

	w := serve(f.h, "POST", "/hooks/team/open", strReader(hookBody))
	errorOf(t, w, http.StatusServiceUnavailable)
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	w = serve(f.h, "GET", "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "malformed")
	require.Equal(t, 1, strings.Count(f.log.String(), "store unavailable: it takes no writes"), f.log.String())
}

// corruptStore moves the WAL of the SQLite file at path into the file, as
// SQLite's checkpoints do, then overwrites every page but the first with
// garbage, as a failing disk or a stray write might.
func corruptStore(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	var busy, logged, moved int
	require.NoError(t, db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &moved))
	require.Zero(t, busy)
	require.NoError(t, db.Close())
	info, err := os.Stat(path)
	require.NoError(t, err)
	const page = 4096
	require.Greater(t, info.Size(), int64(page))
	file, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = file.WriteAt(bytes.Repeat([]byte{0xA5}, int(info.Size())-page), page)
	require.NoError(t, err)
	require.NoError(t, file.Close())
}
