package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The WAL is checkpointed outside the writer's commits. SQLite's own
// auto-checkpoint runs inside the COMMIT that takes the WAL past 1,000
// pages: that commit copies every page of the WAL back into the database
// file and fsyncs it before the callers of its group are answered, so a
// webhook's write now and then waits for the copying of a thousand pages,
// and more often while the retention deletes (a delete dirties many
// pages). The writer connection therefore runs with wal_autocheckpoint=0,
// and a checkpointer does the work in two steps:
//
//  1. On a connection of its own, a PASSIVE checkpoint copies the WAL's
//     frames into the database file and fsyncs it, while the writer goes on
//     appending to the WAL: it holds no lock a writer needs.
//  2. A pass alone never catches up under steady writes (the frames
//     appended during it are left), and SQLite starts the WAL again from
//     its beginning only once every frame has been copied: it grew without
//     bound when tried (877 MiB). So once the WAL holds walRestartFrames
//     frames and a pass finds at most catchUpFrames appended during the
//     pass before it, the writer itself runs a PASSIVE checkpoint as a
//     background write (when no write waits; see writer.doBackground):
//     nobody writes meanwhile, so it copies the few frames
//     left, and the next write starts the WAL again, reusing its file;
//     journal_size_limit (walSizeLimit) truncates a file that grew
//     unusually large.
//
// A reader inside a read transaction may keep the WAL from starting again;
// the next round tries again.
const (
	// checkpointInterval is how often the checkpointer copies the WAL.
	checkpointInterval = 500 * time.Millisecond
	// walRestartFrames is how many WAL frames (pages) make the
	// checkpointer have the WAL started again, as SQLite's auto-checkpoint
	// does at 1,000.
	walRestartFrames = 1000
	// catchUpFrames is the most frames the writer copies itself: about a
	// millisecond of copying, and one fsync.
	catchUpFrames = 256
	// catchUpPasses bounds the passes of one round that try to get within
	// catchUpFrames of the WAL's end while writes keep coming.
	catchUpPasses = 4
	// walSizeLimit is the journal_size_limit of the writer connection: the
	// size a WAL file is truncated to when the WAL starts again. It only
	// trims a WAL that grew unusually: a file cut shorter grows again, and
	// a commit that grows it pays for the file system's metadata too.
	walSizeLimit = 64 << 20
)

// checkpointer copies the WAL into the database file in the background;
// see above.
type checkpointer struct {
	s    *Store
	db   *sql.DB // one connection of its own
	stop chan struct{}
	done chan struct{}
}

// startCheckpointer starts the checkpointer of s on its own connection to
// the file at abs.
func startCheckpointer(s *Store, abs string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", connString(abs, 100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{s: s, db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		// A round that fails (the file is locked by another process, or
		// the store is closing) leaves the WAL to the next one, and to
		// Compact's checkpoint; nothing depends on this one.
		_ = c.round()
	}
}

// walState is what a checkpoint reports of the WAL: the frames it holds
// and how many of them are copied into the database file.
type walState struct {
	frames, copied int64
}

// round copies the WAL in passes of the checkpointer's connection and, once
// the WAL is long and a pass found few frames appended during the one
// before, has the writer copy the rest. A pass reports the WAL as it was
// when the pass began, all of it copied: what was appended meanwhile shows
// in the next pass's count.
func (c *checkpointer) round() error {
	ctx := context.Background()
	last := int64(-1)
	for pass := 0; ; pass++ {
		st, err := c.pass(ctx)
		switch {
		case err != nil:
			return err
		case st.frames < walRestartFrames:
			return nil // short: it goes on growing
		case last >= 0 && st.frames-last <= catchUpFrames:
			// Few frames came during the last pass: about as few are
			// left for the writer now.
		case pass+1 < catchUpPasses:
			last = st.frames
			select {
			case <-c.stop:
				return nil
			default:
				continue
			}
		default:
			return nil // writes keep outrunning the passes: the next round
		}
		break
	}
	start := time.Now()
	_, err := c.s.w.doBackground(ctx, nil, func(ctx context.Context, conn *sql.Conn) error {
		_, err := checkpointPassive(ctx, conn)
		return err
	})
	c.s.observeWait("checkpoint", start)
	return err
}

// pass runs one PASSIVE checkpoint on the checkpointer's connection and
// reports how long it took (op "checkpoint_pass": copying frames into the
// database file and its fsync, off the writer).
func (c *checkpointer) pass(ctx context.Context) (walState, error) {
	defer c.s.observeWait("checkpoint_pass", time.Now())
	return checkpointPassive(ctx, c.db)
}

// rowQuerier runs a query of one row: a connection or a pool.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkpointPassive runs a PASSIVE checkpoint on q, which copies the WAL's
// frames that no reader still needs without waiting for anyone.
func checkpointPassive(ctx context.Context, q rowQuerier) (walState, error) {
	var busy int
	var st walState
	if err := q.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &st.frames, &st.copied); err != nil {
		return walState{}, fmt.Errorf("wal checkpoint: %w", err)
	}
	return st, nil
}
