package sqlitestore

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// A pipelined store (config.pipelined; off in Open, see pipelineCommits)
// runs the writer's connection with synchronous=NORMAL: its COMMIT appends
// the group's frames to the WAL file without an fsync. A syncer fsyncs the
// WAL file (through a descriptor of its own: an fsync flushes the file,
// whichever descriptor asks) and only then answers the writes of every
// group committed before that fsync began, while the writer applies the
// next group (committing it when the fsync ends; see writer.await). So no
// caller is answered before its write is on disk: for every write
// acknowledged, the durability of synchronous=FULL.
//
// SQLite needs nothing more to stay consistent: in WAL mode with
// synchronous=NORMAL a checkpoint still fsyncs the WAL before it copies the
// WAL's frames into the database file and fsyncs that file before the WAL
// starts again, and a frame past the last one on disk is never part of a
// commit after a power loss, so what a crash keeps is always a prefix of
// the commits: all those answered, perhaps some not yet answered.
//
// Readers may see a group before its fsync, for about as long as one fsync
// takes. That is safe because no caller acts on its own write before it is
// answered; a write that only reads (a refusal) is answered after the
// fsync too, as its answer may rest on the groups before it.
//
// A failed fsync is never retried (the kernel may have dropped the pages
// it could not write and report the next fsync clean): the store fails.
// The writes waiting on the fsync, and every write made later, return an
// error naming the cause, and Ping reports it, until herald is restarted.
type syncer struct {
	path string // the WAL file: the database's path with "-wal"
	// syncFile makes the WAL file durable: (*os.File).Sync, or a fault a
	// test injects.
	syncFile func(*os.File) error
	// observe reports how long each fsync took (op "sync").
	observe func(op string, start time.Time)

	mu      sync.Mutex
	pending []*write // done by the writer, answered after the next fsync
	syncing bool     // an fsync runs, or its writes are being answered
	closed  bool

	wake chan struct{} // holds a token when pending may hold writes
	// idle holds a token when the syncer has become idle since the writer
	// last looked; see writer.await.
	idle chan struct{}
	done chan struct{} // closed when the loop has returned

	// failed holds the store's failure once an fsync failed.
	failed atomic.Pointer[error]
	// syncs counts the fsyncs that succeeded, for tests and benchmarks.
	syncs atomic.Int64

	// Only the loop goroutine touches f and id: the WAL file, opened at
	// the first fsync, and its identity then.
	f  *os.File
	id os.FileInfo
}

// newSyncer starts the syncer of the WAL file at path.
func newSyncer(path string, syncFile func(*os.File) error, observe func(op string, start time.Time)) *syncer {
	if syncFile == nil {
		syncFile = (*os.File).Sync
	}
	s := &syncer{
		path:     path,
		syncFile: syncFile,
		observe:  observe,
		wake:     make(chan struct{}, 1),
		idle:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	go s.loop()
	return s
}

// answer hands over writes the writer is done with. Each is answered with
// the error it holds once an fsync begun after this call has succeeded,
// or with the store's failure.
func (s *syncer) answer(writes ...*write) {
	s.mu.Lock()
	s.pending = append(s.pending, writes...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the loop is awake already
	}
}

// busy reports whether an fsync runs or writes wait for one.
func (s *syncer) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncing || len(s.pending) > 0
}

// err returns the store's failure, or nil while every fsync has succeeded.
func (s *syncer) err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// close answers the writes handed over so far, stops the loop and closes
// the WAL file. The writer must not hand over writes after close.
func (s *syncer) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// loop syncs the WAL for the writes handed over, batch by batch, until the
// syncer is closed and nothing is left.
func (s *syncer) loop() {
	defer close(s.done)
	var batch []*write
	for {
		s.mu.Lock()
		// The answered batch's array takes the next writes.
		batch, s.pending = s.pending, batch[:0]
		s.syncing = len(batch) > 0
		closed := s.closed
		s.mu.Unlock()
		if len(batch) == 0 {
			select {
			case s.idle <- struct{}{}:
			default:
			}
			if closed {
				return
			}
			<-s.wake
			continue
		}
		err := s.err()
		if err == nil {
			if err = s.sync(); err != nil {
				err = s.fail(err)
			}
		}
		for _, wr := range batch {
			if err != nil {
				wr.err = err
			}
			close(wr.done)
		}
		clear(batch)
	}
}

// sync makes the WAL file durable. It opens the file at the first call: the
// writer has committed by then, so the file exists, and SQLite keeps it
// (truncating it at most) while the store's connections are open. A file
// replaced or removed since is an error: the writer's frames went to the
// file SQLite holds open, which an fsync of the new one would not cover.
func (s *syncer) sync() error {
	defer s.observe("sync", time.Now())
	if s.f == nil {
		f, err := os.OpenFile(s.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open the WAL file: %w", err)
		}
		id, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("stat the WAL file: %w", err)
		}
		s.f, s.id = f, id
	} else if id, err := os.Stat(s.path); err != nil || !os.SameFile(id, s.id) {
		return fmt.Errorf("the WAL file %s was replaced or removed while the store had it open", s.path)
	}
	if err := s.syncFile(s.f); err != nil {
		return fmt.Errorf("fsync the WAL file %s: %w", s.path, err)
	}
	s.syncs.Add(1)
	return nil
}

// errFailed marks the store's failure after a failed fsync.
var errFailed = errors.New("sqlite store failed")

// fail records cause as the store's failure, unless one is recorded
// already, and returns the failure.
func (s *syncer) fail(cause error) error {
	err := fmt.Errorf("%w: %w: %w (writes since the last good fsync may be lost; restart herald)",
		store.ErrUnavailable, errFailed, cause)
	s.failed.CompareAndSwap(nil, &err)
	return s.err()
}
