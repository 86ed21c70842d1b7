package main

import (
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getPage(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServeConsoleModes(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "hello" {
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}`)

	t.Run("on by default: GET / leads to the console", func(t *testing.T) {
		e.startWith()
		defer e.stop()
		code, h, _ := getPage(t, e.url+"/")
		require.Equal(t, http.StatusFound, code)
		require.Equal(t, "/ui/", h.Get("Location"))
		code, h, body := getPage(t, e.url+"/ui/workflows/hello")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
		require.Contains(t, body, `action="/ui/workflows/hello/runs"`)
		// An action without the session's CSRF token is refused.
		resp, err := noRedirect.PostForm(e.url+"/ui/workflows/hello/runs", url.Values{"input": {"{}"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Empty(t, e.runs("hello"))
		// The API is still where it was.
		code, _, _ = getPage(t, e.url+"/api/v1/workflows")
		require.Equal(t, http.StatusOK, code)
	})

	t.Run("readonly (HERALD_UI) shows pages without actions and refuses POSTs", func(t *testing.T) {
		e.startWith("HERALD_UI=readonly")
		defer e.stop()
		code, _, body := getPage(t, e.url+"/ui/workflows/hello")
		require.Equal(t, http.StatusOK, code)
		require.NotContains(t, body, `method="post"`)
		require.Contains(t, body, "read-only")
		resp, err := noRedirect.PostForm(e.url+"/ui/workflows/hello/runs", url.Values{"input": {"{}"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("--ui off serves no console", func(t *testing.T) {
		// The flag wins over the environment.
		e.log.Reset()
		e.cmd = exec.Command(e.bin, "serve", "--ui", "off", "--dir", e.dir, "--listen", e.listen, "--secrets-file", filepath.Join(e.dir, "secrets.env"))
		e.cmd.Env = append(e.cmd.Environ(), "HERALD_PLUGIN_PATH=", "HERALD_UI=on")
		e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
		require.NoError(t, e.cmd.Start())
		e.eventually(30*time.Second, "herald serve became ready", func() bool {
			resp, err := http.Get(e.url + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		defer e.stop()
		for _, p := range []string{"/ui/", "/ui/runs", "/ui/static/console.css", "/"} {
			code, _, body := getPage(t, e.url+p)
			require.Equal(t, http.StatusNotFound, code, p)
			require.True(t, strings.Contains(body, "no such endpoint"), body)
		}
	})

	t.Run("an unknown --ui is a usage error", func(t *testing.T) {
		out, err := herald(e.bin, nil, "serve", "--ui", "maybe", "--dir", e.dir)
		require.Error(t, err)
		require.Regexp(t, regexp.MustCompile(`unknown console mode "maybe"`), out)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, 2, ee.ExitCode())
	})
}
