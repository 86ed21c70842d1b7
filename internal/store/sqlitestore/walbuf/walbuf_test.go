package walbuf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// dsn returns the DSN of the database at path, opened with the VFS vfs
// ("" for SQLite's default) in WAL mode with synchronous sync, and pragmas
// (busy_timeout 5s unless they set it).
func dsn(path, vfs, sync string, pragmas ...string) string {
	q := url.Values{}
	if !slices.ContainsFunc(pragmas, func(p string) bool { return strings.HasPrefix(p, "busy_timeout") }) {
		q.Add("_pragma", "busy_timeout(5000)")
	}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if vfs != "" {
		q.Set("vfs", vfs)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}).String()
}

// openDB opens one connection to the database at path.
func openDB(t testing.TB, path, vfs, sync string, pragmas ...string) *sql.DB {
	t.Helper()
	require.NoError(t, Register())
	db, err := sql.Open("sqlite", dsn(path, vfs, sync, pragmas...))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Ping())
	return db
}

// row returns the blob of row i: n bytes that depend on i, ending with
// their own SHA-256 so a reader can tell a torn or stale page.
func row(i, n int) []byte {
	p := []byte(fmt.Sprintf("row %d;", i))
	b := bytes.Repeat(p, n/len(p)+1)[:n-sha256.Size]
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func checkRow(b []byte) error {
	if len(b) < sha256.Size {
		return fmt.Errorf("row of %d bytes", len(b))
	}
	sum := sha256.Sum256(b[:len(b)-sha256.Size])
	if !bytes.Equal(sum[:], b[len(b)-sha256.Size:]) {
		return fmt.Errorf("row's checksum does not match")
	}
	return nil
}

func integrityOK(t testing.TB, path string) {
	t.Helper()
	db := openDB(t, path, "", "FULL")
	var res string
	require.NoError(t, db.QueryRow(`PRAGMA integrity_check`).Scan(&res))
	require.Equal(t, "ok", res)
}

// A commit of many pages is one write (here 20 rows of 3 KB, each on its
// own page, and the index pages), where the unix VFS makes two per page.
func TestCommitIsOneWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openDB(t, path, Name, "FULL")
	_, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`)
	require.NoError(t, err)
	before := writes.Load()
	tx, err := db.Begin()
	require.NoError(t, err)
	for i := range 20 {
		_, err := tx.Exec(`INSERT INTO t VALUES (?, ?)`, i, row(i, 3000))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	require.Equal(t, int64(1), writes.Load()-before)

	var n int
	require.NoError(t, openDB(t, path, "", "FULL").QueryRow(`SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 20, n)
}

// Readers on SQLite's default VFS, concurrent with a writer on this one,
// see every commit whole and nothing uncommitted: every transaction adds
// two rows whose values sum to zero, and every row's blob checks.
func TestReadersSeeOnlyCommits(t *testing.T) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "db")
			w := openDB(t, path, Name, mode)
			_, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, b BLOB)`)
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var reads atomic.Int64
			errs := make(chan error, 4)
			for range 3 {
				r := openDB(t, path, "", mode)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						if err := readAll(r); err != nil {
							errs <- err
							return
						}
						reads.Add(1)
					}
				}()
			}
			commits := 400
			if mode == "FULL" {
				commits = 100 // an fsync each
			}
			for i := 0; i < commits; i++ {
				tx, err := w.Begin()
				require.NoError(t, err)
				_, err = tx.Exec(`INSERT INTO t VALUES (?, ?, ?), (?, ?, ?)`,
					2*i, i, row(2*i, 1500+i%7*400), 2*i+1, -i, row(2*i+1, 900))
				require.NoError(t, err)
				if i%5 == 4 {
					// Change old rows too, so commits rewrite pages
					// readers may hold in older frames.
					_, err = tx.Exec(`UPDATE t SET b = ? WHERE id = ?`, row(i, 2500), i/2*2)
					require.NoError(t, err)
					_, err = tx.Exec(`UPDATE t SET b = ? WHERE id = ?`, row(i, 700), i/2*2+1)
					require.NoError(t, err)
				}
				require.NoError(t, tx.Commit())
			}
			cancel()
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.Positive(t, reads.Load())
			require.NoError(t, readAll(openDB(t, path, "", mode)))
			integrityOK(t, path)
		})
	}
}

// readAll checks, in one read transaction, that the rows come in pairs
// summing to zero and that every blob is whole.
func readAll(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.Query(`SELECT v, b FROM t`)
	if err != nil {
		return err
	}
	defer rows.Close()
	n, sum := 0, 0
	for rows.Next() {
		var v int
		var b []byte
		if err := rows.Scan(&v, &b); err != nil {
			return err
		}
		if err := checkRow(b); err != nil {
			return err
		}
		n, sum = n+1, sum+v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n%2 != 0 || sum != 0 {
		return fmt.Errorf("read %d rows summing to %d: a commit seen in part", n, sum)
	}
	return nil
}

// A transaction that spills frames to the WAL and rolls back leaves them
// past the WAL's end; the next writer, on another connection, writes its
// frames at the same offsets. The spilled frames must reach the file (or
// nowhere) before the first writer gives up the write lock, never after:
// written later, they would overwrite the second writer's commit.
func TestRolledBackSpillDoesNotOverwriteTheNextWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	a := openDB(t, path, Name, "FULL", "cache_size(10)", "cache_spill(1)")
	b := openDB(t, path, "", "FULL")
	_, err := a.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)`)
	require.NoError(t, err)

	id := 0
	for round := range 3 {
		before := writes.Load()
		tx, err := a.Begin()
		require.NoError(t, err)
		for i := range 100 {
			_, err := tx.Exec(`INSERT INTO t VALUES (?, ?)`, 1_000_000+round*1000+i, row(i, 3000))
			require.NoError(t, err)
		}
		require.NoError(t, tx.Rollback())
		require.Greater(t, writes.Load(), before, "the transaction spilled no frames")

		// More frames than the first writer spilled, so they cover its
		// last, buffered ones.
		for range 3 {
			tx, err := b.Begin()
			require.NoError(t, err)
			for range 40 {
				_, err := tx.Exec(`INSERT INTO t VALUES (?, ?)`, id, row(id, 3000))
				require.NoError(t, err)
				id++
			}
			require.NoError(t, tx.Commit())
		}
		_, err = a.Exec(`INSERT INTO t VALUES (?, ?)`, id, row(id, 3000))
		require.NoError(t, err)
		id++
	}
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())

	integrityOK(t, path)
	db := openDB(t, path, "", "FULL")
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, id, n)
	rows, err := db.Query(`SELECT b FROM t`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var b []byte
		require.NoError(t, rows.Scan(&b))
		require.NoError(t, checkRow(b))
	}
	require.NoError(t, rows.Err())
}

// Checkpoints of every mode, by the writer and by another connection,
// between and during the writer's transactions (one spilling frames), keep
// every commit.
func TestCheckpointsWithBufferedFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	w := openDB(t, path, Name, "FULL", "cache_size(10)", "wal_autocheckpoint(0)")
	c := openDB(t, path, "", "FULL")
	busy := openDB(t, path, "", "FULL", "busy_timeout(0)")
	_, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)`)
	require.NoError(t, err)
	modes := []string{"PASSIVE", "FULL", "RESTART", "TRUNCATE"}
	id := 0
	for i := range 40 {
		tx, err := w.Begin()
		require.NoError(t, err)
		for range 1 + i%3*20 { // some transactions spill frames
			_, err := tx.Exec(`INSERT INTO t VALUES (?, ?)`, id, row(id, 3000))
			require.NoError(t, err)
			id++
		}
		if i%4 == 1 {
			// Another connection's checkpoint while the writer holds
			// buffered frames: it may not take the write lock.
			_, _ = busy.Exec(`PRAGMA wal_checkpoint(` + modes[i%len(modes)] + `)`)
		}
		require.NoError(t, tx.Commit())
		db := w
		if i%2 == 0 {
			db = c
		}
		_, err = db.Exec(`PRAGMA wal_checkpoint(` + modes[i%len(modes)] + `)`)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	require.NoError(t, c.Close())
	integrityOK(t, path)
	var n int
	require.NoError(t, openDB(t, path, "", "FULL").QueryRow(`SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, id, n)
}

// Files other than a database and its WAL (a rollback journal, temporary
// files) are the unix VFS's own, and a database in rollback-journal mode
// works through this VFS as through unix.
func TestRollbackJournalMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Register())
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?vfs="+Name+"&_pragma=journal_mode(DELETE)&_pragma=temp_store(FILE)")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)`)
	require.NoError(t, err)
	for i := range 50 {
		_, err := db.Exec(`INSERT INTO t VALUES (?, ?)`, i, row(i, 3000))
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM (SELECT DISTINCT b FROM t ORDER BY b)`).Scan(&n))
	require.Equal(t, 50, n)
	require.NoError(t, db.Close())
	integrityOK(t, path)
}

func TestRegisterIsIdempotent(t *testing.T) {
	require.NoError(t, Register())
	require.NoError(t, Register())
}

// Frames are on disk when SQLite publishes them: at every barrier of the
// writer's database file (SQLite writes the wal-index header's second copy,
// then the barrier, then the first copy, which readers trust only when the
// two agree), the WAL on disk holds every frame the second copy counts.
func TestFramesAreOnDiskWhenPublished(t *testing.T) {
	for _, mode := range []string{"FULL", "NORMAL", "OFF"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			w := openDB(t, path, Name, mode)
			_, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)`)
			require.NoError(t, err)
			var barriers, missing atomic.Int64
			var last atomic.Value
			hook := func() {
				shm, err := os.ReadFile(path + "-shm")
				if err != nil || len(shm) < 96 {
					return
				}
				hdr := shm[48:96] // the second copy, written before the barrier
				page := int64(binary.NativeEndian.Uint16(hdr[14:]))
				if page == 1 {
					page = 65536
				}
				frames := int64(binary.NativeEndian.Uint32(hdr[16:]))
				fi, err := os.Stat(path + "-wal")
				if err != nil {
					return
				}
				barriers.Add(1)
				if want := 32 + frames*(page+24); frames > 0 && fi.Size() < want {
					missing.Add(1)
					last.Store(fmt.Sprintf("%d frames published, the WAL on disk is %d bytes, not %d", frames, fi.Size(), want))
				}
			}
			barrierHook.Store(&hook)
			defer barrierHook.Store(nil)
			for i := range 30 {
				tx, err := w.Begin()
				require.NoError(t, err)
				for j := range 1 + i%4 {
					_, err := tx.Exec(`INSERT INTO t VALUES (?, ?)`, i*10+j, row(i, 3000))
					require.NoError(t, err)
				}
				require.NoError(t, tx.Commit())
			}
			barrierHook.Store(nil)
			require.Positive(t, barriers.Load())
			require.Zero(t, missing.Load(), "%v", last.Load())
		})
	}
}
