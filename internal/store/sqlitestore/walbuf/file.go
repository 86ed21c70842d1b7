package walbuf

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// file is the head of the sqlite3_file SQLite allocates for a main database
// or a WAL opened through this VFS (its szOsFile is the unix VFS's plus this
// head); the unix VFS's own file object follows it, at real. Other files
// (journals, temporary files) are the unix VFS's file object alone.
type file struct {
	methods uintptr // sqlite3_file.pMethods: dbMethods or walMethods
	real    uintptr // the unix VFS's sqlite3_file, right after this head
	// peer links a database and its WAL while both are open: a database's
	// WAL, a WAL's database (0 when none).
	peer uintptr
	// A WAL's buffer: n bytes at buf (of bufferSize), which belong at
	// offset off of the file.
	buf uintptr
	n   int64
	off int64
	// commit is set by the header of a commit frame: the next write, its
	// page, completes a commit and is written at once.
	commit int32
	// failed is the error of a write made where SQLite could not be told
	// (xShmBarrier), reported by the WAL's next method that can.
	failed int32
}

func sizeT(n uintptr) types.Size_t { return types.Size_t(n) }

// xOpen opens the file with the unix VFS: behind a head for a main database
// or a WAL, in place for anything else.
func xOpen(tls *libc.TLS, _ uintptr, zName uintptr, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	if flags&(sqlite3.SQLITE_OPEN_MAIN_DB|sqlite3.SQLITE_OPEN_WAL) == 0 {
		return unixOpen(tls, zName, pFile, flags, pOutFlags)
	}
	f := at[file](pFile)
	*f = file{}
	real := pFile + unsafe.Sizeof(file{})
	rc := unixOpen(tls, zName, real, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK {
		if at[sqlite3.Tsqlite3_file](real).FpMethods != 0 {
			ioClose(tls, real)
		}
		return rc
	}
	version := at[sqlite3.Tsqlite3_io_methods](at[sqlite3.Tsqlite3_file](real).FpMethods).FiVersion
	if flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0 {
		if version < 3 {
			// A locking style without shared memory (unix-none, dotfile):
			// no WAL to buffer, so the unix file is used as it is.
			ioClose(tls, real)
			return unixOpen(tls, zName, pFile, flags, pOutFlags)
		}
		f.real, f.methods = real, dbMethods
		return sqlite3.SQLITE_OK
	}
	f.real, f.methods = real, walMethods
	if db := sqlite3.Xsqlite3_database_file_object(tls, zName); db != 0 && at[file](db).methods == dbMethods {
		f.peer = db
		at[file](db).peer = pFile
	}
	return sqlite3.SQLITE_OK
}

func unixOpen(tls *libc.TLS, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	fn := at[sqlite3.Tsqlite3_vfs](unixVFS).FxOpen
	return (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fn})))(tls, unixVFS, zName, pFile, flags, pOutFlags)
}

// methodsOf returns the io methods of the unix file real.
func methodsOf(real uintptr) *sqlite3.Tsqlite3_io_methods {
	return at[sqlite3.Tsqlite3_io_methods](at[sqlite3.Tsqlite3_file](real).FpMethods)
}

func ioClose(tls *libc.TLS, real uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxClose})))(tls, real)
}

func ioWrite(tls *libc.TLS, real, p uintptr, n int32, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxWrite})))(tls, real, p, n, off)
}

// flush writes the WAL's buffer, if any, to the file in one write. The
// buffer is empty afterwards whatever the result: a failed write is
// reported to SQLite, which then treats the frames as not written, as it
// would had the unix VFS failed them.
func (f *file) flush(tls *libc.TLS) int32 {
	if f.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n, off := f.n, f.off
	f.n, f.commit = 0, 0
	writes.Add(1)
	return ioWrite(tls, f.real, f.buf, int32(n), off)
}

// writes counts the writes of WAL buffers to their files, for tests.
var writes atomic.Int64

// flushed flushes the WAL's buffer and returns the first error not yet
// reported, of this flush or of an earlier one made where SQLite could not
// be told.
func (f *file) flushed(tls *libc.TLS) int32 {
	rc := f.flush(tls)
	if f.failed != sqlite3.SQLITE_OK {
		rc, f.failed = f.failed, sqlite3.SQLITE_OK
	}
	return rc
}

// flushWAL flushes the WAL of the database file db, if it has one open.
func flushWAL(tls *libc.TLS, db uintptr) int32 {
	if w := at[file](db).peer; w != 0 {
		return at[file](w).flush(tls)
	}
	return sqlite3.SQLITE_OK
}

// walWrite buffers a write to the WAL: in the buffer when it starts within
// or right after it and fits; otherwise the buffer is written first and a
// new one starts. A write larger than the buffer goes to the file as it is.
func walWrite(tls *libc.TLS, pFile, p uintptr, n int32, off int64) int32 {
	f := at[file](pFile)
	if f.failed != sqlite3.SQLITE_OK {
		return f.flushed(tls)
	}
	if f.n > 0 && (off < f.off || off > f.off+f.n || off+int64(n) > f.off+bufferSize) {
		if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if int64(n) > bufferSize {
		return ioWrite(tls, f.real, p, n, off)
	}
	if f.buf == 0 {
		if f.buf = libc.Xmalloc(tls, bufferSize); f.buf == 0 {
			return ioWrite(tls, f.real, p, n, off)
		}
	}
	if f.n == 0 {
		f.off = off
	}
	copy(bytesAt(f.buf+uintptr(off-f.off), int(n)), bytesAt(p, int(n)))
	f.n = max(f.n, off-f.off+int64(n))
	switch {
	case f.commit != 0:
		return f.flush(tls)
	case n == walFrameHeader && binary.BigEndian.Uint32(bytesAt(p+4, 4)) != 0:
		f.commit = 1
	}
	return sqlite3.SQLITE_OK
}

// walFrameHeader is the size of a WAL frame's header; its bytes 4 to 8 are
// the database's size in pages after a commit, or 0 in a frame that does
// not end one.
const walFrameHeader = 24

// walRead writes the buffer before any read: a read of the buffer's range
// needs it, and so does one of a gap below it, which the file would not
// have (a short read) where the buffer's write makes zeros. SQLite reads
// the WAL while its buffer holds frames only in a transaction that
// spilled pages, so this is rare.
func walRead(tls *libc.TLS, pFile, p uintptr, n int32, off int64) int32 {
	f := at[file](pFile)
	if f.n > 0 || f.failed != sqlite3.SQLITE_OK {
		if rc := f.flushed(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	return dbRead(tls, pFile, p, n, off)
}

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	f := at[file](pFile)
	rc := f.flushed(tls)
	if f.buf != 0 {
		libc.Xfree(tls, f.buf)
		f.buf = 0
	}
	if f.peer != 0 {
		at[file](f.peer).peer = 0
		f.peer = 0
	}
	if rc2 := ioClose(tls, f.real); rc == sqlite3.SQLITE_OK {
		rc = rc2
	}
	return rc
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	if rc := at[file](pFile).flushed(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return dbTruncate(tls, pFile, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	if rc := at[file](pFile).flushed(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return dbSync(tls, pFile, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	if rc := at[file](pFile).flushed(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return dbFileSize(tls, pFile, pSize)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	if rc := at[file](pFile).flushed(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return dbFileControl(tls, pFile, op, pArg)
}

// The database file's methods, and the WAL's that it does not change: the
// unix VFS's method on the file behind the head.

func dbClose(tls *libc.TLS, pFile uintptr) int32 {
	f := at[file](pFile)
	if f.peer != 0 {
		w := at[file](f.peer)
		w.flush(tls)
		w.peer, f.peer = 0, 0
	}
	return ioClose(tls, f.real)
}

func dbRead(tls *libc.TLS, pFile, p uintptr, n int32, off int64) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxRead})))(tls, real, p, n, off)
}

func dbWrite(tls *libc.TLS, pFile, p uintptr, n int32, off int64) int32 {
	return ioWrite(tls, at[file](pFile).real, p, n, off)
}

func dbTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxTruncate})))(tls, real, size)
}

func dbSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxSync})))(tls, real, flags)
}

func dbFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxFileSize})))(tls, real, pSize)
}

func dbLock(tls *libc.TLS, pFile uintptr, lock int32) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxLock})))(tls, real, lock)
}

func dbUnlock(tls *libc.TLS, pFile uintptr, lock int32) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxUnlock})))(tls, real, lock)
}

func dbCheckReservedLock(tls *libc.TLS, pFile, pResOut uintptr) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxCheckReservedLock})))(tls, real, pResOut)
}

func dbFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxFileControl})))(tls, real, op, pArg)
}

func dbSectorSize(tls *libc.TLS, pFile uintptr) int32 {
	real := at[file](pFile).real
	fn := methodsOf(real).FxSectorSize
	if fn == 0 {
		return 4096
	}
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fn})))(tls, real)
}

func dbDeviceCharacteristics(tls *libc.TLS, pFile uintptr) int32 {
	real := at[file](pFile).real
	fn := methodsOf(real).FxDeviceCharacteristics
	if fn == 0 {
		return 0
	}
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fn})))(tls, real)
}

func dbShmMap(tls *libc.TLS, pFile uintptr, page, size, extend int32, pp uintptr) int32 {
	real := at[file](pFile).real
	return (*(*func(*libc.TLS, uintptr, int32, int32, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxShmMap})))(tls, real, page, size, extend, pp)
}

// dbShmLock writes the WAL's buffer before any lock change: a writer gives
// up the WAL's write lock here (after a commit, or a rollback that leaves
// spilled frames behind), and the next writer may write at the same
// offsets. A lock is not taken when the write fails; an unlock always is
// made.
func dbShmLock(tls *libc.TLS, pFile uintptr, offset, n, flags int32) int32 {
	rc := flushWAL(tls, pFile)
	if rc != sqlite3.SQLITE_OK && flags&sqlite3.SQLITE_SHM_UNLOCK == 0 {
		return rc
	}
	real := at[file](pFile).real
	if rc2 := (*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxShmLock})))(tls, real, offset, n, flags); rc2 != sqlite3.SQLITE_OK {
		return rc2
	}
	return rc
}

// dbShmBarrier writes the WAL's buffer before the barrier: SQLite publishes
// a commit's frames to other connections by the wal-index header it writes
// across it. A failure cannot be returned here; the WAL's next method
// reports it.
func dbShmBarrier(tls *libc.TLS, pFile uintptr) {
	f := at[file](pFile)
	if f.peer != 0 {
		w := at[file](f.peer)
		if rc := w.flush(tls); rc != sqlite3.SQLITE_OK && w.failed == sqlite3.SQLITE_OK {
			w.failed = rc
		}
	}
	real := f.real
	(*(*func(*libc.TLS, uintptr))(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxShmBarrier})))(tls, real)
	if h := barrierHook.Load(); h != nil {
		(*h)()
	}
}

// barrierHook, when set, is called after every barrier, for tests.
var barrierHook atomic.Pointer[func()]

func dbShmUnmap(tls *libc.TLS, pFile uintptr, deleteFlag int32) int32 {
	rc := flushWAL(tls, pFile)
	real := at[file](pFile).real
	if rc2 := (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(real).FxShmUnmap})))(tls, real, deleteFlag); rc2 != sqlite3.SQLITE_OK {
		return rc2
	}
	return rc
}

func dbFetch(tls *libc.TLS, pFile uintptr, off int64, n int32, pp uintptr) int32 {
	real := at[file](pFile).real
	fn := methodsOf(real).FxFetch
	if fn == 0 {
		*at[uintptr](pp) = 0
		return sqlite3.SQLITE_OK
	}
	return (*(*func(*libc.TLS, uintptr, int64, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fn})))(tls, real, off, n, pp)
}

func dbUnfetch(tls *libc.TLS, pFile uintptr, off int64, p uintptr) int32 {
	real := at[file](pFile).real
	fn := methodsOf(real).FxUnfetch
	if fn == 0 {
		return sqlite3.SQLITE_OK
	}
	return (*(*func(*libc.TLS, uintptr, int64, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fn})))(tls, real, off, p)
}
