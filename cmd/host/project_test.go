package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/heraldhq/herald/internal/testbin"
)

// bundledPlugins are the main packages of the plugins Herald ships.
var bundledPlugins = []string{
	"github.com/heraldhq/herald/plugins/chatapi",
	"github.com/heraldhq/herald/plugins/chitchatlabs",
	"github.com/heraldhq/herald/plugins/chatwoot",
}

// TestProjectScripts runs the scripts in testdata/project: whole projects
// validated and run through the real bundled plugin binaries against an
// in-process sandbox (see sandboxCmds for the commands it adds).
func TestProjectScripts(t *testing.T) {
	t.Parallel()
	dir := testbin.Build(t, bundledPlugins...)
	bins := map[string][]byte{}
	for _, pkg := range bundledPlugins {
		name := filepath.Base(pkg)
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		bins["herald-provider-"+name] = b
	}
	cmds := sandboxCmds()
	cmds["exits"] = exitsCmd
	testscript.Run(t, testscript.Params{
		Dir: "testdata/project",
		Setup: func(env *testscript.Env) error {
			pdir := filepath.Join(env.WorkDir, "plugins")
			if err := os.MkdirAll(pdir, 0o755); err != nil {
				return err
			}
			for n, b := range bins {
				if err := os.WriteFile(filepath.Join(pdir, n), b, 0o755); err != nil {
					return err
				}
			}
			env.Setenv("HERALD_PLUGIN_PATH", pdir)
			return nil
		},
		Cmds: cmds,
	})
}

// exitsCmd is `exits CODE PROG [ARGS...]`: run PROG like exec and check its
// exit code.
func exitsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}
