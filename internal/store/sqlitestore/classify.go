package sqlitestore

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald/internal/store"
)

// classify marks an error with store.ErrUnavailable when SQLite failed for
// a reason outside the call, which a later call may not meet: the file is
// locked by another process beyond the busy timeout, read-only, full,
// damaged, or cannot be read or opened. Other errors come back unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	// Extended result codes keep the primary code in their low byte.
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
