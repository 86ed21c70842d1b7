// Package walbuf is a SQLite VFS for modernc.org/sqlite that coalesces a
// connection's writes to its write-ahead log: SQLite writes every WAL frame
// with two pwrite calls (the 24-byte frame header, then the page), and a
// commit of n pages makes 2n of them; through this VFS it makes one.
//
// The VFS is SQLite's default "unix" VFS with one change. A connection's
// writes to its "-wal" file go to a buffer in memory (contiguous frames, up
// to bufferSize bytes) and reach the file in one write when SQLite needs
// them there:
//   - right after the page of a commit frame (a frame header whose "database
//     size after commit" is not zero), so a commit's frames are written by
//     the xWrite of its last page, and a failure is reported there, as the
//     unix VFS would report it;
//   - before xSync, xTruncate, xFileSize, xFileControl, xRead and xClose of
//     the WAL;
//   - before any shared-memory lock change (xShmLock), barrier (xShmBarrier)
//     or unmap (xShmUnmap) of the connection's database file: SQLite
//     publishes frames to other connections (the wal-index header) only
//     across a barrier, and gives up the WAL's write lock only through
//     xShmLock, so no other connection, process, checkpoint or crash
//     recovery can see a WAL state that SQLite did not ask for.
//
// Everything else is the unix VFS itself: the files are opened by its xOpen
// (so POSIX locks and the shared memory are shared with connections that use
// "unix", in the same process or not), and every other method is the unix
// method on the same file. Connections that only read need not use this VFS:
// what they can see is only what was published, and that is on disk first.
//
// The package must not hold on to anything SQLite does not: a file's state
// lives in the file object SQLite allocates (szOsFile), the buffer in
// libc's heap, freed when the WAL is closed.
package walbuf

import (
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Name is the name the VFS is registered under: the value of the vfs
// parameter of a "file:" DSN.
const Name = "herald-walbuf"

// bufferSize is the most a WAL's buffer holds, 31 frames of 4 KiB pages; a
// longer run of frames is written in pieces of at most this size. It is the
// most the unix VFS writes in one call (its seekAndWrite masks the length
// with 0x1ffff: a longer write would be cut and fail with SQLITE_FULL). The
// buffer is allocated at the WAL's first write and stays resident while the
// WAL is open.
const bufferSize = 0x1ffff

var (
	registerOnce sync.Once
	registerErr  error
	// unixVFS is the sqlite3_vfs of the default VFS the files are opened
	// with; set once by Register.
	unixVFS uintptr
	// dbMethods and walMethods are the sqlite3_io_methods of a main
	// database file and of its WAL opened through this VFS.
	dbMethods, walMethods uintptr
)

// Register registers the VFS with SQLite under Name, once per process.
// It is safe to call from several goroutines; every call returns the first
// one's result.
func Register() error {
	registerOnce.Do(func() { registerErr = register() })
	return registerErr
}

func register() error {
	tls := libc.NewTLS()
	defer tls.Close()
	unix := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if unix == 0 {
		return fmt.Errorf("walbuf: no default sqlite vfs")
	}
	base := at[sqlite3.Tsqlite3_vfs](unix)
	if base.FiVersion < 1 || base.FxOpen == 0 {
		return fmt.Errorf("walbuf: default sqlite vfs has no xOpen")
	}
	vfs := libc.Xcalloc(tls, 1, sizeT(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	name, err := libc.CString(Name)
	if err != nil || vfs == 0 {
		return fmt.Errorf("walbuf: out of memory registering the vfs")
	}
	v := at[sqlite3.Tsqlite3_vfs](vfs)
	*v = *base
	v.FpNext = 0
	v.FzName = name
	v.FszOsFile = base.FszOsFile + int32(unsafe.Sizeof(file{}))
	v.FxOpen = cFuncPointer(xOpen)

	dbMethods = newMethods(tls, 3, dbClose, dbRead, dbWrite, dbTruncate, dbSync, dbFileSize, dbLock, dbUnlock,
		dbCheckReservedLock, dbFileControl, dbSectorSize, dbDeviceCharacteristics)
	m := at[sqlite3.Tsqlite3_io_methods](dbMethods)
	m.FxShmMap = cFuncPointer(dbShmMap)
	m.FxShmLock = cFuncPointer(dbShmLock)
	m.FxShmBarrier = cFuncPointer(dbShmBarrier)
	m.FxShmUnmap = cFuncPointer(dbShmUnmap)
	m.FxFetch = cFuncPointer(dbFetch)
	m.FxUnfetch = cFuncPointer(dbUnfetch)
	walMethods = newMethods(tls, 1, walClose, walRead, walWrite, walTruncate, walSync, walFileSize, dbLock, dbUnlock,
		dbCheckReservedLock, walFileControl, dbSectorSize, dbDeviceCharacteristics)
	if dbMethods == 0 || walMethods == 0 {
		return fmt.Errorf("walbuf: out of memory registering the vfs")
	}
	unixVFS = unix
	if rc := sqlite3.Xsqlite3_vfs_register(tls, vfs, 0); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("walbuf: register vfs: sqlite error %d", rc)
	}
	return nil
}

// newMethods allocates a sqlite3_io_methods of version with the first
// twelve methods (version 1's).
func newMethods(tls *libc.TLS, version int32,
	close func(*libc.TLS, uintptr) int32,
	read, write func(*libc.TLS, uintptr, uintptr, int32, int64) int32,
	truncate func(*libc.TLS, uintptr, int64) int32,
	sync func(*libc.TLS, uintptr, int32) int32,
	fileSize func(*libc.TLS, uintptr, uintptr) int32,
	lock, unlock func(*libc.TLS, uintptr, int32) int32,
	checkReserved func(*libc.TLS, uintptr, uintptr) int32,
	fileControl func(*libc.TLS, uintptr, int32, uintptr) int32,
	sectorSize, deviceCharacteristics func(*libc.TLS, uintptr) int32,
) uintptr {
	p := libc.Xcalloc(tls, 1, sizeT(unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
	if p == 0 {
		return 0
	}
	m := at[sqlite3.Tsqlite3_io_methods](p)
	m.FiVersion = version
	m.FxClose = cFuncPointer(close)
	m.FxRead = cFuncPointer(read)
	m.FxWrite = cFuncPointer(write)
	m.FxTruncate = cFuncPointer(truncate)
	m.FxSync = cFuncPointer(sync)
	m.FxFileSize = cFuncPointer(fileSize)
	m.FxLock = cFuncPointer(lock)
	m.FxUnlock = cFuncPointer(unlock)
	m.FxCheckReservedLock = cFuncPointer(checkReserved)
	m.FxFileControl = cFuncPointer(fileControl)
	m.FxSectorSize = cFuncPointer(sectorSize)
	m.FxDeviceCharacteristics = cFuncPointer(deviceCharacteristics)
	return p
}

// cFuncPointer returns the address SQLite calls for the top-level Go
// function f, as modernc.org/sqlite's own callbacks do (the memory layout
// of https://golang.org/s/go11func). f must not be a closure or a method
// value.
func cFuncPointer[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// at returns the C memory at p as a *T (the conversion modernc's generated
// code makes; a uintptr into libc's heap, which Go's collector does not
// manage).
func at[T any](p uintptr) *T {
	return *(**T)(unsafe.Pointer(&p))
}

// bytesAt returns the n bytes of C memory at p.
func bytesAt(p uintptr, n int) []byte {
	return unsafe.Slice(at[byte](p), n)
}
