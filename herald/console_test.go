package herald_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

func TestConsoleHandlerUnderAPrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := herald.New(ctx, herald.Options{
		Files: map[string][]byte{"chat.hcl": []byte(`
provider "chat" {}
workflow "announce" {
  description = "Tell the channel"
  step "post" {
    uses = "chat.post"
    with = { channel = "#releases", text = "{{ trigger.body.text }}" }
  }
}
`)},
		Providers: []sdk.Provider{chat{}},
		APIToken:  "embedded-console-token",
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	serveCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go func() { _ = h.Serve(serveCtx) }()

	mux := http.NewServeMux()
	mux.Handle("/ops/herald/", h.ConsoleHandler("/ops/herald", herald.ConsoleOptions{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}

	resp, err := client.Get(srv.URL + "/ops/herald/workflows")
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, "/ops/herald/login", resp.Request.URL.Path, "the token is asked for first")

	resp, err = client.PostForm(srv.URL+"/ops/herald/login", url.Values{"token": {"embedded-console-token"}, "next": {"/ops/herald/workflows/announce"}})
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "Tell the channel")
	require.Contains(t, body, `action="/ops/herald/workflows/announce/runs"`)
	require.NotContains(t, body, "embedded-console-token")

	// A manual run started from the page runs on the embedded host.
	csrf := strings.SplitN(strings.SplitN(body, `name="csrf" value="`, 2)[1], `"`, 2)[0]
	resp, err = client.PostForm(srv.URL+"/ops/herald/workflows/announce/runs", url.Values{"csrf": {csrf}, "input": {`{"text":"2.4.1 is live"}`}})
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	id := strings.TrimPrefix(resp.Request.URL.Path, "/ops/herald/runs/")
	run, err := h.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "succeeded", string(run.Status))

	// Read-only: the same pages, no action.
	ro := httptest.NewServer(h.ConsoleHandler("/ro", herald.ConsoleOptions{ReadOnly: true}))
	t.Cleanup(ro.Close)
	resp, err = client.PostForm(ro.URL+"/ro/login", url.Values{"token": {"embedded-console-token"}, "next": {"/ro/workflows/announce"}})
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "Tell the channel")
	require.NotContains(t, body, `/runs" id="start-run"`)
	require.NotContains(t, body, "Start run")
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
