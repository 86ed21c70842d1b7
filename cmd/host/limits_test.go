package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"
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

// TestServeSurvivesDeepInput feeds a running `herald serve` what used to
// kill it: webhook, API and provider bodies nested 9,000 levels deep (under
// the 10,000 Go's decoder allows) and a hot reload of a project file nested
// 60,000 levels deep, which overflowed the HCL parser's stack. The bodies
// are refused with 400, the reload is refused and logged, and the server
// keeps answering; a restart with the file still there exits with the
// diagnostic instead of crashing.
func TestServeSurvivesDeepInput(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "greet" {
  trigger "webhook" {
    path = "greet"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hello" }
  }
}`)
	e.start()
	healthy := func() {
		t.Helper()
		resp, err := http.Get(e.url + "/healthz")
		require.NoError(t, err, "herald serve is gone; log:\n%s", e.log)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	deep := []byte(`{"a":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}`)
	for _, path := range []string{"/hooks/greet", "/api/v1/workflows/greet/runs", "/providers/support/webhook"} {
		code, body := e.post(path, deep, nil)
		require.Equal(t, http.StatusBadRequest, code, path)
		require.Contains(t, body["error"], "JSON nested deeper than 100 levels (at byte 105)", path)
		healthy()
	}
	require.Empty(t, e.runs("greet"))

	writeFile(t, filepath.Join(e.dir, "deep.hcl"), `workflow "deep" {
  vars = { x = `+strings.Repeat("[", 60_000)+strings.Repeat("]", 60_000)+` }
}
`)
	e.eventually(20*time.Second, "the deep file was refused", func() bool {
		return strings.Contains(e.log.String(), "still serving the previous version")
	})
	require.Contains(t, e.log.String(), "deep.hcl:2:114: nesting deeper than 100 levels")
	healthy()
	code, _ := e.post("/hooks/greet", []byte(`{}`), nil)
	require.Equal(t, http.StatusAccepted, code, "the previous project keeps serving")
	require.Equal(t, 0, e.stop())

	// Restarting with the file in place is a clean validation error.
	out, err := herald(e.bin, append(os.Environ(), "HERALD_PLUGIN_PATH="), "serve", "--dir", e.dir, "--listen", e.listen, "--secrets-file", filepath.Join(e.dir, "secrets.env"))
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	require.Equal(t, 2, ee.ExitCode(), out)
	require.Contains(t, out, "deep.hcl:2:114: nesting deeper than 100 levels")
	require.NotContains(t, out, "stack overflow")
}
