package sqlitestore

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// crashChildEnv names the database a child process of TestKilledWriterKeepsAcknowledgedRuns
// writes to.
const crashChildEnv = "HERALD_TEST_CRASH_CHILD_DB"

// TestKilledWriterKeepsAcknowledgedRuns kills (kill -9) a process writing
// runs from 16 goroutines through the store's writer (group commits through
// walbuf, whose buffer dies with the process) and reopens its database:
// every run whose CreateRun returned is there, and the file is intact.
func TestKilledWriterKeepsAcknowledgedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills child processes")
	}
	t.Setenv(vfsEnv, "") // the default: walbuf
	for round, acks := range []int{150, 600, 1500} {
		path := filepath.Join(t.TempDir(), "herald.db")
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChildWritesRuns$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		acked := map[string]bool{}
		lines := bufio.NewScanner(out)
		for len(acked) < acks && lines.Scan() {
			if id, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
				acked[id] = true
			}
		}
		require.NoError(t, cmd.Process.Kill())
		// Runs acknowledged while the kill was on its way count too.
		for lines.Scan() {
			if id, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
				acked[id] = true
			}
		}
		_ = cmd.Wait()
		require.GreaterOrEqual(t, len(acked), acks, "round %d: the child stopped early", round)

		ctx := context.Background()
		s, err := Open(ctx, path)
		require.NoError(t, err)
		for id := range acked {
			_, err := s.GetRun(ctx, id)
			require.NoError(t, err, "round %d: acknowledged run %s", round, id)
		}
		require.NoError(t, s.Close())
		db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path))
		require.NoError(t, err)
		var res string
		require.NoError(t, db.QueryRow(`PRAGMA integrity_check`).Scan(&res))
		require.NoError(t, db.Close())
		require.Equal(t, "ok", res, "round %d", round)
		t.Logf("round %d: %d acknowledged runs kept", round, len(acked))
	}
}

// TestCrashChildWritesRuns is the child of TestKilledWriterKeepsAcknowledgedRuns:
// it writes runs until killed, printing "ack <id>" for each CreateRun that
// returned.
func TestCrashChildWritesRuns(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("the child of TestKilledWriterKeepsAcknowledgedRuns")
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	require.NoError(t, err)
	acks := make(chan string, 64)
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				run := store.Run{ID: store.NewRunID(), Workflow: "crash", Status: store.StatusQueued,
					Trigger:   json.RawMessage(fmt.Sprintf(`{"kind":"webhook","body":%q}`, strings.Repeat("x", 200+i%7*300))),
					CreatedAt: time.Now()}
				if _, _, err := s.CreateRun(ctx, run, fmt.Sprintf("crash:%d:%d", g, i), time.Hour); err != nil {
					panic(err)
				}
				acks <- run.ID
			}
		}()
	}
	for id := range acks {
		if _, err := fmt.Fprintf(os.Stdout, "ack %s\n", id); err != nil {
			return
		}
	}
}

// HERALD_SQLITE_VFS selects the writer's VFS: unix (SQLite's own) works as
// walbuf does, and an unknown name is refused.
func TestWriterVFSFromEnvironment(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{"unix", "herald-walbuf", ""} {
		t.Setenv(vfsEnv, v)
		s, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
		require.NoError(t, err, "%s=%q", vfsEnv, v)
		run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued,
			Trigger: json.RawMessage(`{}`), CreatedAt: time.Now()}
		_, _, err = s.CreateRun(ctx, run, "", 0)
		require.NoError(t, err)
		_, err = s.GetRun(ctx, run.ID)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	t.Setenv(vfsEnv, "walbuf")
	_, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	require.ErrorContains(t, err, vfsEnv)
}
