package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/heraldhq/herald/internal/testbin"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"herald": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each script gets the
// echo plugin in $WORK/plugins, on HERALD_PLUGIN_PATH, with its sha256 in
// $ECHO_SHA256, plus commands: `exits CODE PROG ARGS...` checks an exit
// code, `tamper FILE` changes a file's bytes, `httpserve DIR` serves a
// directory at $SERVER_URL and `targz ARCHIVE FILE...` writes an archive.
func TestScripts(t *testing.T) {
	t.Parallel()
	built := filepath.Join(testbin.Build(t, "github.com/heraldhq/herald/internal/testplugin/cmd/herald-provider-echo"), "herald-provider-echo")
	bin, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			dir := filepath.Join(env.WorkDir, "plugins")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "herald-provider-echo"), bin, 0o755); err != nil {
				return err
			}
			env.Setenv("HERALD_PLUGIN_PATH", dir)
			env.Setenv("ECHO_SHA256", hex.EncodeToString(sum[:]))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     exitsCmd,
			"nest":      nestCmd,
			"httpserve": httpserveCmd,
			"targz":     targzCmd,
			"tamper": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: tamper FILE")
				}
				path := ts.MkAbs(args[0])
				b, err := os.ReadFile(path)
				ts.Check(err)
				ts.Check(os.Remove(path))
				ts.Check(os.WriteFile(path, append(b, "tampered"...), 0o755))
			},
		},
	})
}
