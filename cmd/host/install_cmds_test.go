package main

import (
	"archive/tar"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
)

// httpserveCmd is the testscript command `httpserve DIR`: it serves DIR
// over HTTP on loopback until the script ends and sets $SERVER_URL.
func httpserveCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpserve DIR")
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(ts.MkAbs(args[0]))))
	ts.Defer(srv.Close)
	ts.Setenv("SERVER_URL", srv.URL)
}

// targzCmd is the testscript command `targz ARCHIVE FILE...`: it writes a
// gzipped tar archive holding the files under their base names.
func targzCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: targz ARCHIVE FILE...")
	}
	out, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	for _, name := range args[1:] {
		b, err := os.ReadFile(ts.MkAbs(name))
		ts.Check(err)
		ts.Check(tw.WriteHeader(&tar.Header{Name: filepath.Base(name), Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err = tw.Write(b)
		ts.Check(err)
	}
	ts.Check(tw.Close())
	ts.Check(zw.Close())
	ts.Check(out.Close())
}
