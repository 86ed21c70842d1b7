package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// nestCmd is the testscript command `nest FILE N OPEN CLOSE`: it replaces
// the first @NEST@ in FILE with OPEN repeated N times and CLOSE repeated N
// times, for files too deep to write out in a script.
func nestCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: nest FILE N OPEN CLOSE")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if !strings.Contains(string(b), "@NEST@") {
		ts.Fatalf("%s has no @NEST@", args[0])
	}
	deep := strings.Repeat(args[2], n) + strings.Repeat(args[3], n)
	ts.Check(os.WriteFile(path, []byte(strings.Replace(string(b), "@NEST@", deep, 1)), 0o644))
}
