package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	chatwootfake "github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/internal/sandbox"
)

// consoleToken is HERALD_API_TOKEN of the browser test's host.
const consoleToken = "console-browser-token-5f1d"

// consoleWorkflows are the workflows the browser test drives.
const consoleWorkflows = `
workflow "greet" {
  description = "Say hello to someone by WhatsApp"
  trigger "cron" {
    schedule = "30 2 * * *"
    timezone = "Europe/Berlin"
  }
  when = "trigger.kind != 'cron'"
  step "hello" {
    uses = "chatapi.send_message"
    with = { phone = "{{ trigger.body.phone }}", body = "Hello {{ trigger.body.name }}" }
  }
}

workflow "quarterly-audit" {
  description = "Remind the team of the audit, at 02:30 Berlin time"
  trigger "cron" {
    schedule = "30 2 28 3,6,9,12 *"
    timezone = "Europe/Berlin"
  }
  step "remind" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "Audit today" }
  }
}

workflow "page-oncall" {
  description = "Page the on-call engineer; fall back to a WhatsApp template"
  trigger "webhook" {
    path   = "page"
    secret = "{{ secrets.HOOK_SECRET }}"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "disk full on db-1" }
    retry {
      max_attempts     = 2
      initial_interval = "50ms"
    }
    fallback {
      uses = "whatsapp_cc.send_single"
      with = { to = { mobile = "14155550123" }, fb_template = "oncall", language = "en" }
    }
  }
}

workflow "two-step" {
  description = "Chat API first, then a ChitChatLabs template"
  step "first" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "one" }
  }
  step "second" {
    uses = "whatsapp_cc.send_single"
    with = { to = { mobile = "14155550123" }, fb_template = "oncall", language = "en" }
  }
}

workflow "slow" {
  description = "A send the provider takes its time over"
  step "send" {
    uses    = "chatapi.send_message"
    with    = { phone = "14155550123", body = "slow" }
    timeout = "2m"
  }
}
`

// consoleSecrets are the values no console page may show.
var consoleSecrets = []string{consoleToken, "sandbox-token", "sandbox-api-key", chatwootfake.DefaultToken, chatwootfake.DefaultWebhookSecret, "hook-secret-value"}

// findChromium returns the Chromium to drive, skipping the test when there
// is none and CI is unset (in CI, a missing browser is a failure).
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HERALD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (chromium, chromium-browser, google-chrome or headless-shell on PATH, or HERALD_CHROMIUM); .ci/run installs the Debian package chromium")
	}
	t.Skip("no Chromium found: install the Debian package chromium (or set HERALD_CHROMIUM) to run the console's browser test")
	return ""
}

// browser is a headless Chromium tab on the console.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func newBrowser(t *testing.T, exe, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not carry a timeout.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)), "start Chromium %s", exe)
	shots := os.Getenv("HERALD_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if !filepath.IsAbs(shots) {
		// Relative to the module root, like the docs links.
		root, err := filepath.Abs(filepath.Join("..", ".."))
		require.NoError(t, err)
		shots = filepath.Join(root, shots)
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	return &browser{t: t, ctx: ctx, base: base, shots: shots}
}

// do runs actions with a deadline.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...), what)
}

// click clicks the element sel matches. A live update that replaces the
// element between chromedp's query and its click fails the click with
// "Could not find node with given id" before anything is dispatched; the
// click is then made again on the new element, up to three times.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err != nil && attempt < 3 && strings.Contains(err.Error(), "Could not find node with given id") {
			b.t.Logf("%s: %s was replaced before the click; clicking again", what, sel)
			continue
		}
		require.NoError(b.t, err, what)
		return
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(b.t, err, expr)
	return v
}

// waitFor waits until the JavaScript predicate holds, failing with what
// and the page's text otherwise. It evaluates the predicate again and
// again, so a navigation in between (which destroys the page's context)
// is waited out.
func (b *browser) waitFor(what, predicate string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+predicate+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("waiting until %s (last error %v)\npage %s:\n%s", what, lastErr, eval[string](b, "location.href"), eval[string](b, "document.body.innerText"))
}

// open navigates to a console path and waits for its main element.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// html returns the page's HTML after checking that no secret is in it.
func (b *browser) html() string {
	b.t.Helper()
	page := eval[string](b, "document.documentElement.outerHTML")
	for _, s := range consoleSecrets {
		require.NotContains(b.t, page, s, "a secret on %s", eval[string](b, "location.href"))
	}
	return page
}

// text returns the text of the first element matching a CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf("(document.querySelector(%q) || {}).innerText || ''", sel))
}

// shot writes a full-page screenshot as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644))
}

// colorScheme makes the page's prefers-color-scheme light or dark.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// apiRun reads a run through the API.
func (e *serveEnv) apiRun(id string) map[string]any {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/api/v1/runs/"+id, nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+consoleToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	var v map[string]any
	require.NoError(e.t, json.Unmarshal(body, &v))
	return v
}

// startRunWithToken starts a manual run of workflow through the API, with
// the console test's token.
func (e *serveEnv) startRunWithToken(workflow, input string) string {
	e.t.Helper()
	code, body := e.post("/api/v1/workflows/"+workflow+"/runs", []byte(input), map[string]string{"Authorization": "Bearer " + consoleToken})
	require.Equal(e.t, http.StatusAccepted, code, "%v", body)
	return body["run_id"].(string)
}

// waitStatus waits until the run has one of the statuses.
func (e *serveEnv) waitStatus(id string, statuses ...string) map[string]any {
	e.t.Helper()
	var run map[string]any
	e.eventually(30*time.Second, "run "+id+" is "+strings.Join(statuses, " or "), func() bool {
		run = e.apiRun(id)
		for _, s := range statuses {
			if run["status"] == s {
				return true
			}
		}
		return false
	})
	return run
}

// startWith runs herald serve with extra environment and waits until it is
// ready.
func (e *serveEnv) startWith(env ...string) {
	e.t.Helper()
	e.log = &bytes.Buffer{}
	e.cmd = exec.Command(e.bin, "serve", "--dir", e.dir, "--listen", e.listen, "--secrets-file", filepath.Join(e.dir, "secrets.env"))
	e.cmd.Env = append(append(os.Environ(), "HERALD_PLUGIN_PATH=", "HERALD_LOG_LEVEL=debug"), env...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	require.NoError(e.t, e.cmd.Start())
	e.eventually(30*time.Second, "herald serve became ready", func() bool {
		resp, err := http.Get(e.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestConsoleInTheBrowser(t *testing.T) {
	exe := findChromium(t)
	e := newServeEnv(t, consoleWorkflows)
	e.startWith("HERALD_API_TOKEN=" + consoleToken)
	b := newBrowser(t, exe, e.url)

	// GET / leads to the console, which asks for the token once.
	b.open("/")
	b.do("the login page", chromedp.WaitVisible(chromedp.CSS("#token")))
	require.Contains(t, eval[string](b, "location.pathname"), "/ui/login")
	b.shot("login")
	b.do("log in", chromedp.SendKeys(chromedp.CSS("#token"), consoleToken), chromedp.Click(chromedp.CSS("#login")))
	b.waitFor("the workflows page", `document.querySelector("h1") && document.querySelector("h1").innerText === "Workflows"`, 15*time.Second)
	page := b.html()
	require.Contains(t, page, "greet")
	require.Contains(t, page, "page-oncall")

	t.Run("start a manual run and watch it succeed live", func(t *testing.T) {
		b.t = t
		// The first send takes a moment, so the page shows the run before
		// it ends.
		e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 1500, Count: 1})
		b.open("/ui/workflows/greet")
		require.Contains(t, b.html(), "+01:00 CET", "next fires in the trigger's timezone")
		// Invalid JSON is refused with a clear message (the browser's own
		// check is bypassed: the server must refuse it too).
		b.do("type invalid input", chromedp.SetValue(chromedp.CSS("#input"), `{"phone": 1415`),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("input").setCustomValidity(""); document.getElementById("start-run").noValidate = true`),
			chromedp.Click(chromedp.CSS("#start")))
		b.waitFor("the input error", `document.getElementById("input-error") !== null`, 15*time.Second)
		require.Contains(t, b.text("#input-error"), "not valid JSON")

		b.do("start a run", chromedp.SetValue(chromedp.CSS("#input"), `{"phone": "14155550123", "name": "Ada"}`), chromedp.Click(chromedp.CSS("#start")))
		b.waitFor("the run page", `location.pathname.startsWith("/ui/runs/")`, 15*time.Second)
		b.do("wait for the page", chromedp.WaitReady(chromedp.CSS("#run-status")))
		// A mark that a reload would wipe.
		_ = eval[bool](b, "window.heraldNoReload = true")
		status := b.text("#run-status")
		require.NotContains(t, status, "succeeded", "the run had not ended when its page opened")
		b.waitFor("the run succeeded on the open page", `document.getElementById("run-status").innerText.includes("succeeded")`, 30*time.Second)
		require.True(t, eval[bool](b, "window.heraldNoReload === true"), "the page was reloaded instead of updated live")
		page := b.html()
		require.Contains(t, page, "Ada", "the trigger payload")
		b.shot("run-succeeded")
		id := strings.TrimPrefix(eval[string](b, "location.pathname"), "/ui/runs/")
		b.open("/ui/workflows/greet")
		require.Contains(t, b.html(), "s-succeeded", "the workflow's last runs")
		b.shot("workflow")
		run := e.apiRun(id)
		require.Equal(t, "succeeded", run["status"])
		require.Equal(t, "manual", run["trigger"].(map[string]any)["kind"])
	})

	t.Run("a run whose first provider failed shows each attempt and the fallback", func(t *testing.T) {
		b.t = t
		e.sandbox.Reset()
		e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", Status: 500, Count: 2})
		id := e.startRunWithToken("page-oncall", `{}`)
		e.waitStatus(id, "succeeded", "failed")
		b.open("/ui/runs/" + id)
		page := b.html()
		require.Contains(t, page, "whatsapp_cc", "the fallback provider")
		consoleFallbackChecks(t, b, page)
	})

	t.Run("the attempt's request is shown masked", func(t *testing.T) {
		b.t = t
		consoleMaskedRequest(t, b, b.html())
		b.shot("run-fallback")
		// The same page in the dark, as a system set to dark mode shows it.
		b.do("prefer dark", colorScheme("dark"))
		require.Equal(t, "rgb(20, 23, 27)", eval[string](b, "getComputedStyle(document.body).backgroundColor"))
		b.shot("run-fallback-dark")
		b.do("prefer light", colorScheme("light"))
	})

	t.Run("the runs list gains new runs live", func(t *testing.T) {
		b.t = t
		e.sandbox.Reset()
		b.open("/ui/runs")
		_ = eval[bool](b, "window.heraldNoReload = true")
		b.waitFor("the live stream", `document.getElementById("live-state").innerText === "live"`, 15*time.Second)
		id := e.startRunWithToken("greet", `{"phone": "14155550123", "name": "Grace"}`)
		b.waitFor("the new run in the list", fmt.Sprintf(`document.getElementById("run-%s") !== null`, id), 30*time.Second)
		require.True(t, eval[bool](b, "window.heraldNoReload === true"), "the list was reloaded instead of updated live")
		b.html()
		b.shot("runs")
	})

	t.Run("workflows, schedule and plugins", func(t *testing.T) {
		b.t = t
		b.open("/ui/workflows")
		require.Contains(t, b.html(), "s-succeeded", "last runs")
		b.shot("workflows")
		b.open("/ui/schedule")
		page := b.html()
		require.Contains(t, page, "greet")
		require.Contains(t, page, "Europe/Berlin")
		// 2027-03-28 02:30 does not exist in Berlin: daylight saving
		// starts that night.
		require.Contains(t, page, "DST gap: 02:30 does not exist; fires at 03:00 CEST")
		b.shot("schedule")
		b.open("/ui/plugins")
		page = b.html()
		for _, name := range []string{"chatapi", "chitchatlabs", "chatwoot"} {
			require.Contains(t, page, name)
		}
		require.Contains(t, page, "healthy")
		require.Regexp(t, `sha256 [0-9a-f]{64}`, page)
		b.shot("plugins")
	})

	t.Run("retry a failed run from its failing step", func(t *testing.T) {
		b.t = t
		consoleRetry(t, e, b)
	})

	t.Run("cancel a slow run", func(t *testing.T) {
		b.t = t
		consoleCancel(t, e, b)
	})
}
