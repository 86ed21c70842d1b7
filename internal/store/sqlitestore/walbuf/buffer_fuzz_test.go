package walbuf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// FuzzWALBuffer drives a WAL file of this VFS (a unix file behind the head,
// with the WAL's methods) with writes at any offset and of any length
// (frame headers that end a commit among them), reads, sizes, syncs and
// truncations, against a model of the file in memory: every read and size
// is the model's, and so is the file once closed.
func FuzzWALBuffer(f *testing.F) {
	// Frames as SQLite writes them: the WAL header, then header and page
	// of each frame, the last a commit's; then an overwrite and a read.
	frames := []byte{0, 0, 0, 32, 0}
	for i := range 6 {
		off := 32 + i*(24+4096)
		frames = append(frames, 0, byte(off>>8), byte(off), 24, 0)
		if i == 5 {
			frames[len(frames)-1] = 1 // a commit frame
		}
		frames = append(frames, 0, byte((off+24)>>8), byte(off+24), 0x10, 0)
	}
	frames = append(frames, 0, 0, 60, 0x10, 0, 1, 0, 50, 0x20, 0, 2, 0, 0, 0, 0)
	f.Add(frames)
	f.Add([]byte{0, 1, 0, 200, 0, 3, 0, 100, 0, 0, 1, 0, 50, 0x30, 0, 4, 0, 0, 0, 0})
	f.Add([]byte{5, 0, 0, 0, 0, 0, 2, 0, 8, 0, 1, 0, 0, 0x40, 0})

	require.NoError(f, Register())
	f.Fuzz(func(t *testing.T, ops []byte) {
		tls := libc.NewTLS()
		defer tls.Close()
		path := filepath.Join(t.TempDir(), "db-wal")
		require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "db"), nil, 0o600))
		pFile, name := openWAL(t, tls, path)
		wal := at[file](pFile)
		var model []byte
		var serial byte
		for len(ops) >= 5 {
			op, off, n, arg := ops[0]%6, int64(binary.BigEndian.Uint16(ops[1:3]))*8, int(ops[3])<<6|int(ops[4]&63), ops[4]
			ops = ops[5:]
			switch op {
			case 0, 5: // write n bytes (a whole page for 0x10, a frame header for 24), or nearly a whole buffer (5)
				switch {
				case op == 5:
					n = bufferSize - n
				case n == 0x10<<6:
					n = 4096
				case n == 0:
					n = 1
				}
				data := make([]byte, n)
				for i := range data {
					data[i] = serial + byte(i)
				}
				serial++
				if n == walFrameHeader {
					binary.BigEndian.PutUint32(data[4:], uint32(arg)) // a commit when not 0
				}
				p := cBytes(t, tls, data)
				require.Equal(t, int32(sqlite3.SQLITE_OK), walWrite(tls, pFile, p, int32(n), off))
				libc.Xfree(tls, p)
				if end := off + int64(n); end > int64(len(model)) {
					model = append(model, make([]byte, end-int64(len(model)))...)
				}
				copy(model[off:], data)
			case 1: // read
				n = max(n, 1)
				p := libc.Xmalloc(tls, sizeT(uintptr(n)))
				rc := walRead(tls, pFile, p, int32(n), off)
				want := make([]byte, n)
				if off < int64(len(model)) {
					copy(want, model[off:])
				}
				if off+int64(n) <= int64(len(model)) {
					require.Equal(t, int32(sqlite3.SQLITE_OK), rc)
				} else {
					require.Equal(t, int32(sqlite3.SQLITE_IOERR_SHORT_READ), rc)
				}
				require.True(t, bytes.Equal(want, bytesAt(p, n)), "read %d bytes at %d", n, off)
				libc.Xfree(tls, p)
			case 2: // size
				p := libc.Xmalloc(tls, 8)
				require.Equal(t, int32(sqlite3.SQLITE_OK), walFileSize(tls, pFile, p))
				want := int64(len(model))
				if want == 1 {
					want = 0 // the unix VFS's own: a 1-byte file is reported empty (unixFileSize)
				}
				require.Equal(t, want, *at[int64](p))
				libc.Xfree(tls, p)
			case 3: // truncate
				size := min(off, int64(len(model)))
				require.Equal(t, int32(sqlite3.SQLITE_OK), walTruncate(tls, pFile, size))
				model = model[:size]
			case 4: // sync
				require.Equal(t, int32(sqlite3.SQLITE_OK), walSync(tls, pFile, sqlite3.SQLITE_SYNC_NORMAL))
				require.Zero(t, wal.n)
			}
		}
		require.Equal(t, int32(sqlite3.SQLITE_OK), walClose(tls, pFile))
		libc.Xfree(tls, pFile)
		libc.Xfree(tls, name)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, bytes.Equal(model, got), "the file is %d bytes, the model %d", len(got), len(model))
	})
}

// openWAL opens path with the unix VFS behind a head with the WAL's
// methods, as xOpen opens a WAL (without a database to link it to), and
// returns it and its name, to free after closing it.
func openWAL(t *testing.T, tls *libc.TLS, path string) (pFile, name uintptr) {
	size := at[sqlite3.Tsqlite3_vfs](unixVFS).FszOsFile + int32(unsafe.Sizeof(file{}))
	pFile = libc.Xcalloc(tls, 1, sizeT(uintptr(size)))
	name, err := libc.CString(path)
	require.NoError(t, err)
	real := pFile + unsafe.Sizeof(file{})
	flags := int32(sqlite3.SQLITE_OPEN_READWRITE | sqlite3.SQLITE_OPEN_CREATE | sqlite3.SQLITE_OPEN_MAIN_JOURNAL)
	require.Equal(t, int32(sqlite3.SQLITE_OK), unixOpen(tls, name, real, flags, 0))
	f := at[file](pFile)
	f.real, f.methods = real, walMethods
	return pFile, name
}

// cBytes copies b to libc's heap.
func cBytes(t *testing.T, tls *libc.TLS, b []byte) uintptr {
	p := libc.Xmalloc(tls, sizeT(uintptr(len(b))))
	require.NotZero(t, p)
	copy(bytesAt(p, len(b)), b)
	return p
}
