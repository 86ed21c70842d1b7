package console_test

import (
	"bufio"
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// pages lists every page of the fixture's console.
func (f *fixture) pages() []string {
	return []string{"/ui/", "/ui/workflows", "/ui/workflows/digest", "/ui/workflows/manual", "/ui/runs",
		"/ui/runs?workflow=digest&status=failed", "/ui/runs/" + f.failed, "/ui/runs/" + f.succeeded,
		"/ui/runs/" + f.running, "/ui/schedule", "/ui/plugins", "/ui/no-such-page", "/ui/runs/nope"}
}

func TestEveryPageRendersWithoutSecretsAndWithSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	for _, page := range f.pages() {
		w := c.get(page)
		want := http.StatusOK
		if strings.Contains(page, "nope") || strings.Contains(page, "no-such") {
			want = http.StatusNotFound
		}
		require.Equal(t, want, w.Code, "%s: %s", page, w.Body)
		h := w.Header()
		require.Equal(t, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'", h.Get("Content-Security-Policy"), page)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), page)
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), page)
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"), page)
		body := w.Body.String()
		requireNoSecret(t, page, body)
		// No inline script or style: the CSP would block them anyway.
		require.NotRegexp(t, `<script>|<script [^>]*>[^<]|<style|style="|onclick=|onload=|javascript:`, body, page)
	}
}

func TestRunPageShowsTheTimeline(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	body := html.UnescapeString(c.get("/ui/runs/" + f.failed).Body.String())
	require.Contains(t, body, `id="step-notify"`)
	require.Contains(t, body, `id="step-confirm"`)
	require.Contains(t, body, "chat not found (token ***)", "the step's error, masked")
	require.Contains(t, body, `"note": "***"`, "the trigger payload, masked")
	require.Contains(t, body, "whatsapp_cc.send_single", "the fallback the workflow declares")
	require.Contains(t, body, "via <strong>whatsapp_cc</strong>", "the provider that answered")
	require.Contains(t, body, `>Retry from the first step that did not succeed<`)
	require.Contains(t, body, `name="from_step" value="confirm"`)
	// Every attempt, with the fallback hop marked and the masked exchange.
	require.Equal(t, 3, strings.Count(body, `<tr class="attempt`), "three attempts")
	require.Contains(t, body, `<tr class="attempt hop">`)
	require.Contains(t, body, "↪ fallback</span> <strong>whatsapp_cc</strong> · <code>send_single</code>")
	require.Contains(t, body, "POST https://api.chat-api.com/instance12345/sendMessage?token=***")
	require.Contains(t, body, "HTTP 500")
	require.Contains(t, body, `"error": "upstream down"`)
	require.Contains(t, body, "420ms")
	// A running run offers cancel, not retry.
	body = c.get("/ui/runs/" + f.running).Body.String()
	require.Contains(t, body, `id="cancel"`)
	require.NotContains(t, body, `id="retry"`)
	require.Contains(t, body, `id="step-confirm"`, "a step not reached yet is shown as pending")
	require.Contains(t, body, "s-pending")
}

func TestActionsNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	token := c.csrf("/ui/runs/" + f.failed)
	target := "/ui/runs/" + f.failed + "/retry"

	w := c.post(target, url.Values{"from_step": {"confirm"}})
	require.Equal(t, http.StatusForbidden, w.Code, "no token: %s", w.Body)
	w = c.post(target, url.Values{"csrf": {strings.Repeat("0", len(token))}, "from_step": {"confirm"}})
	require.Equal(t, http.StatusForbidden, w.Code, "a wrong token")
	other := f.client(t)
	other.csrf("/ui/runs/" + f.failed)
	w = other.post(target, url.Values{"csrf": {token}})
	require.Equal(t, http.StatusForbidden, w.Code, "another session's token")
	require.Empty(t, f.b.operations(), "no refused POST may reach the backend")

	w = c.post(target, url.Values{"csrf": {token}, "from_step": {"confirm"}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(t, "/ui/runs/"+f.failed, w.Header().Get("Location"))
	ops := f.b.operations()
	require.Len(t, ops, 1)
	require.Equal(t, "retry", ops[0].Name)
	require.Equal(t, "confirm", ops[0].Step)
	require.Equal(t, f.failed, ops[0].ID)
	require.Equal(t, "console:127.0.0.1:50000", ops[0].By)

	for _, tc := range []struct {
		path string
		form url.Values
		want operation
	}{
		{"/cancel", url.Values{}, operation{Name: "cancel"}},
		{"/resolve", url.Values{"step": {"notify"}, "item": {"3"}, "as": {"sent"}}, operation{Name: "resolve", Step: "notify", Item: 3, Sent: true}},
		{"/resolve", url.Values{"step": {"notify"}, "as": {"unsent"}}, operation{Name: "resolve", Step: "notify", Item: -1}},
		{"/signal", url.Values{"name": {"ack"}, "data": {`{"ok":true}`}}, operation{Name: "signal", Step: "ack", Data: `{"ok":true}`}},
	} {
		tc.form.Set("csrf", token)
		w := c.post("/ui/runs/"+f.running+tc.path, tc.form)
		require.Equal(t, http.StatusSeeOther, w.Code, "%s: %s", tc.path, w.Body)
		ops := f.b.operations()
		got := ops[len(ops)-1]
		tc.want.ID, tc.want.By = f.running, got.By
		require.Equal(t, tc.want, got, tc.path)
	}
	// Malformed actions are refused before the backend.
	n := len(f.b.operations())
	for _, form := range []url.Values{{"step": {"notify"}, "as": {"maybe"}}, {"as": {"sent"}}, {"step": {"x"}, "item": {"-2"}, "as": {"sent"}}} {
		form.Set("csrf", token)
		require.Equal(t, http.StatusBadRequest, c.post("/ui/runs/"+f.running+"/resolve", form).Code)
	}
	require.Equal(t, http.StatusBadRequest, c.post("/ui/runs/"+f.running+"/signal", url.Values{"csrf": {token}, "name": {"ack"}, "data": {"{nope"}}).Code)
	require.Len(t, f.b.operations(), n)
}

func TestActionErrorsAreShownOnTheRunPage(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	token := c.csrf("/ui/runs/" + f.failed)
	f.b.opErr = store.ErrNotFound
	w := c.post("/ui/runs/"+f.failed+"/retry", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusNotFound, w.Code)
	f.b.opErr = errorf("retry refused with token %s: %w", chatapiToken, store.ErrInvalid)
	w = c.post("/ui/runs/"+f.failed+"/retry", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "Retry refused: retry refused with token ***")
	requireNoSecret(t, "an action's error", w.Body.String())
}

func TestStartARunFromTheWorkflowPage(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	page := c.get("/ui/workflows/manual").Body.String()
	require.Contains(t, page, `id="start-run"`)
	token := csrfRE.FindStringSubmatch(page)[1]

	w := c.post("/ui/workflows/manual/runs", url.Values{"csrf": {token}, "input": {`{"phone": "1415",}`}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "The input is not valid JSON")
	require.Contains(t, w.Body.String(), `{&#34;phone&#34;: &#34;1415&#34;,}`, "the input is kept for fixing")
	runs, err := f.b.st.ListRuns(context.Background(), store.RunFilter{Workflow: "manual"})
	require.NoError(t, err)
	require.Empty(t, runs)

	form := url.Values{"csrf": {token}, "input": {`{"phone": "14155550123"}`}, "idem": {"abc123"}}
	w = c.post("/ui/workflows/manual/runs", form)
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	runs, err = f.b.st.ListRuns(context.Background(), store.RunFilter{Workflow: "manual"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, "/ui/runs/"+runs[0].ID, w.Header().Get("Location"))
	trig, err := engine.DecodeTrigger(runs[0].Trigger)
	require.NoError(t, err)
	require.Equal(t, "manual", trig.Kind)
	require.Equal(t, map[string]any{"phone": "14155550123"}, trig.Body)

	// The same form sent twice (a double click) starts one run.
	w = c.post("/ui/workflows/manual/runs", form)
	require.Equal(t, "/ui/runs/"+runs[0].ID, w.Header().Get("Location"))
	require.Equal(t, http.StatusNotFound, c.post("/ui/workflows/nope/runs", url.Values{"csrf": {token}}).Code)
}

func TestLoginWithTheToken(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{Token: apiToken})
	c := f.client(t)
	w := c.get("/ui/runs?status=failed")
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.Equal(t, "/ui/login?next=%2Fui%2Fruns%3Fstatus%3Dfailed", w.Header().Get("Location"))
	require.Nil(t, c.cookie, "no session before the login")
	require.Equal(t, http.StatusUnauthorized, c.post("/ui/runs/"+f.failed+"/retry", url.Values{}).Code)

	login := c.get("/ui/login?next=/ui/runs")
	require.Equal(t, http.StatusOK, login.Code)
	require.Contains(t, login.Body.String(), `type="password"`)

	w = c.post("/ui/login", url.Values{"token": {"wrong"}, "next": {"/ui/runs"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Nil(t, c.cookie)
	requireNoSecret(t, "the failed login", w.Body.String())

	w = c.post("/ui/login", url.Values{"token": {apiToken}, "next": {"https://evil.example/ui/"}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.Equal(t, "/ui/", w.Header().Get("Location"), "the login never redirects off the console")
	require.NotNil(t, c.cookie)
	require.True(t, c.cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.cookie.SameSite)
	require.Equal(t, "/ui/", c.cookie.Path)
	require.False(t, c.cookie.Secure, "plain HTTP")
	require.NotContains(t, c.cookie.Value, apiToken)

	for _, page := range f.pages() {
		w := c.get(page)
		require.NotEqual(t, http.StatusSeeOther, w.Code, page)
		requireNoSecret(t, page, w.Body.String())
	}
	page := c.get("/ui/runs").Body.String()
	require.Contains(t, page, "Log out")

	// A tampered cookie is no session.
	stolen := *c.cookie
	// Change the first character to another one (always another: a cookie
	// that already began with the replacement stayed valid, 1 run in 64).
	first := "A"
	if strings.HasPrefix(stolen.Value, first) {
		first = "B"
	}
	tampered := &client{t: t, h: f.h, remote: c.remote, cookie: &http.Cookie{Name: stolen.Name, Value: first + stolen.Value[1:]}}
	require.Equal(t, http.StatusSeeOther, tampered.get("/ui/runs").Code)

	token := c.csrf("/ui/runs/" + f.failed)
	require.Equal(t, http.StatusForbidden, c.post("/ui/logout", url.Values{}).Code, "logout needs the CSRF token too")
	w = c.post("/ui/logout", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.Nil(t, c.cookie)
	// The old cookie no longer works after logging out.
	replay := &client{t: t, h: f.h, remote: c.remote, cookie: &stolen}
	require.Equal(t, http.StatusSeeOther, replay.get("/ui/runs").Code)
}

func TestSecureCookieOverTLS(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{Token: apiToken})
	r := httptest.NewRequest(http.MethodPost, "https://herald.example/ui/login", strings.NewReader(url.Values{"token": {apiToken}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	require.Equal(t, http.StatusSeeOther, w.Code)
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	require.True(t, cookies[0].Secure)
}

func TestWithoutATokenOnlyLoopbackClients(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	c.remote = "10.1.2.3:4567"
	require.Equal(t, http.StatusForbidden, c.get("/ui/runs").Code)
	c.remote = "[::1]:4567"
	require.Equal(t, http.StatusOK, c.get("/ui/runs").Code)
	// With a token, any client may log in.
	g := setup(t, console.Options{Token: apiToken})
	d := g.client(t)
	d.remote = "10.1.2.3:4567"
	require.Equal(t, http.StatusOK, d.get("/ui/login").Code)
}

func TestReadOnlyOffersNoAction(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{ReadOnly: true, Token: apiToken})
	c := f.client(t)
	require.Equal(t, http.StatusSeeOther, c.post("/ui/login", url.Values{"token": {apiToken}}).Code)
	postForm := regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	for _, page := range f.pages() {
		body := c.get(page).Body.String()
		for _, m := range postForm.FindAllStringSubmatch(body, -1) {
			require.Equal(t, "/ui/logout", m[1], "%s offers an action in read-only mode", page)
		}
	}
	require.Contains(t, c.get("/ui/runs").Body.String(), "read-only")
	// Even a POST with the session's valid CSRF token is refused.
	token := c.csrf("/ui/runs/" + f.failed)
	for _, target := range []string{"/ui/runs/" + f.failed + "/retry", "/ui/runs/" + f.running + "/cancel", "/ui/workflows/manual/runs", "/ui/runs/" + f.running + "/signal", "/ui/runs/" + f.running + "/resolve"} {
		w := c.post(target, url.Values{"csrf": {token}, "name": {"x"}, "step": {"notify"}, "as": {"sent"}})
		require.Equal(t, http.StatusForbidden, w.Code, target)
	}
	require.Empty(t, f.b.operations())
	runs, err := f.b.st.ListRuns(context.Background(), store.RunFilter{Workflow: "manual"})
	require.NoError(t, err)
	require.Empty(t, runs)
}

func TestRunsListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	c := f.client(t)
	body := c.get("/ui/runs?status=failed").Body.String()
	require.Contains(t, body, f.failed)
	require.NotContains(t, body, f.succeeded)
	body = c.get("/ui/runs?workflow=manual").Body.String()
	require.Contains(t, body, "No runs match")
	body = c.get("/ui/runs?trigger=webhook").Body.String()
	require.Contains(t, body, f.failed)
	require.NotContains(t, body, f.succeeded)
	until := f.now.Add(-2 * time.Minute).Format("2006-01-02T15:04")
	body = c.get("/ui/runs?until=" + until).Body.String()
	require.Contains(t, body, "No runs match", "every run was created after until")
	require.Contains(t, c.get("/ui/runs?since="+until).Body.String(), f.failed)
	require.Equal(t, http.StatusBadRequest, c.get("/ui/runs?since=yesterday").Code)
	w := c.get("/ui/runs?status=exploded")
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "unknown status exploded")

	// 60 more runs: the first page holds 50 and links to the next by the
	// last run's id.
	for range 60 {
		f.addRun(t, store.StatusSucceeded, `{"kind":"cron"}`, func(string) {}, "")
	}
	body = c.get("/ui/runs").Body.String()
	require.Equal(t, 50, strings.Count(body, `<tr id="run-`))
	m := regexpFind(t, `href="(/ui/runs\?before=[^"]+)" rel="next"`, body)
	body2 := c.get(strings.ReplaceAll(m, "&amp;", "&")).Body.String()
	require.Equal(t, 13, strings.Count(body2, `<tr id="run-`))
	require.Contains(t, body2, "← Newest")
	require.NotContains(t, body2, `data-live="runs"`, "an older page does not move under the reader")
	require.Contains(t, body, `data-live="runs"`)
}

func TestSchedulePageMarksDST(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	f.h = mustConsole(t, f.b, console.Options{Prefix: "/ui", Now: func() time.Time { return time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC) }})
	c := f.client(t)
	body := html.UnescapeString(c.get("/ui/schedule").Body.String())
	// 02:30 does not exist in Berlin on 2026-03-29.
	require.Contains(t, body, "Sat 2026-03-28 02:30:00 +01:00 CET")
	require.Contains(t, body, "DST gap: 02:30 does not exist; fires at 03:00 CEST")
	body = c.get("/ui/workflows/digest").Body.String()
	require.Contains(t, body, "DST gap: 02:30 does not exist")
	body = html.UnescapeString(c.get("/ui/workflows").Body.String())
	require.Contains(t, body, "Sat 2026-03-28 02:30:00 +01:00 CET")
}

func TestPluginsPage(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	body := f.client(t).get("/ui/plugins").Body.String()
	require.Contains(t, body, "chatapi")
	require.Contains(t, body, "1.2.0")
	require.Contains(t, body, strings.Repeat("ab", 32))
	require.Contains(t, body, "unhealthy")
	require.Contains(t, body, "token *** rejected")
	require.Contains(t, body, "pid 4242")
}

func TestMountedUnderAnotherPrefix(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	f.h = mustConsole(t, f.b, console.Options{Prefix: "/ops/herald/"})
	c := f.client(t)
	w := c.get("/ops/herald/runs")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `href="/ops/herald/runs/`+f.failed+`"`)
	require.Contains(t, w.Body.String(), `src="/ops/herald/static/console.js"`)
	require.Equal(t, "/ops/herald/", c.cookie.Path)
	css := c.get("/ops/herald/static/console.css")
	require.Equal(t, http.StatusOK, css.Code)
	require.Contains(t, css.Header().Get("Content-Type"), "text/css")
	require.Equal(t, http.StatusFound, c.get("/ops/herald").Code)
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ui/events?run="+f.running, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Eventually(t, func() bool { return f.b.subscribers() == 1 }, 5*time.Second, 10*time.Millisecond)
	f.b.publish(engine.Event{Type: engine.StepFinished, RunID: f.failed, Workflow: "digest", StepID: "notify", Status: "failed"})
	f.b.publish(engine.Event{Type: engine.RunFinished, RunID: f.running, Workflow: "digest", Status: "succeeded"})
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "data: {") {
			break
		}
	}
	require.Contains(t, lines, "event: run")
	require.Contains(t, lines, `data: {"type":"run_finished","run_id":"`+f.running+`","workflow":"digest","status":"succeeded"}`, "only the run asked for: %q", lines)
	cancel()
	require.Eventually(t, func() bool { return f.b.subscribers() == 0 }, 5*time.Second, 10*time.Millisecond, "the stream unsubscribes when the browser leaves")
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]console.Mode{"": console.ModeOn, "on": console.ModeOn, "READONLY": console.ModeReadOnly, "off": console.ModeOff} {
		got, err := console.ParseMode(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := console.ParseMode("maybe")
	require.ErrorContains(t, err, `unknown console mode "maybe"`)
}

func TestMountBesideTheAPI(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "api "+r.URL.Path, http.StatusTeapot)
	})
	h := console.Mount(api, f.h.(*console.Console))
	c := &client{t: t, h: h, remote: "127.0.0.1:1"}
	w := c.get("/")
	require.Equal(t, http.StatusFound, w.Code)
	require.Equal(t, "/ui/", w.Header().Get("Location"))
	require.Equal(t, http.StatusOK, c.get("/ui/runs").Code)
	require.Equal(t, http.StatusTeapot, c.get("/api/v1/runs").Code)
	require.Equal(t, http.StatusTeapot, c.get("/healthz").Code)
	require.Equal(t, http.StatusTeapot, c.do(http.MethodPost, "/", url.Values{}).Code, "only GET / redirects")
}

func TestRunPageShowsItemsProgressAndReasons(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	ctx := context.Background()
	start := f.now.Add(-time.Minute)
	id := f.addRun(t, store.StatusRunning, `{"kind":"manual"}`, func(id string) {
		// An if-skipped step with its reason.
		require.NoError(t, f.b.st.RecordStep(ctx, store.StepRecord{StepKey: store.StepKey{RunID: id, StepID: "notify", Item: store.NoItem},
			Status: store.StatusSkipped, Reason: "vars.team == 'ops'", StartedAt: start, FinishedAt: start}))
		// A for_each step, three of five items done, one failed.
		require.NoError(t, f.b.st.RecordStep(ctx, store.StepRecord{StepKey: store.StepKey{RunID: id, StepID: "each", Item: store.NoItem},
			Status: store.StatusRunning, Total: 5, StartedAt: start}))
		for i, st := range []store.Status{store.StatusSucceeded, store.StatusFailed, store.StatusSucceeded} {
			rec := store.StepRecord{StepKey: store.StepKey{RunID: id, StepID: "each", Item: i}, Status: st, Attempts: 1, Provider: "chatapi",
				StartedAt: start, FinishedAt: start.Add(time.Second)}
			if st == store.StatusFailed {
				rec.Error = &store.StepError{Class: "permanent", Message: "invalid phone; token " + chatapiToken}
			}
			require.NoError(t, f.b.st.RecordStep(ctx, rec))
		}
	}, "")
	body := html.UnescapeString(f.client(t).get("/ui/runs/" + id).Body.String())
	requireNoSecret(t, "the run page", body)
	require.Contains(t, body, "Why skipped:</strong> <code>vars.team == 'ops'</code>")
	require.Contains(t, body, `<progress value="3" max="5"`)
	require.Contains(t, body, "3 of 5 items done")
	require.Contains(t, body, "1 failed")
	require.Contains(t, body, "· ETA", "the pace so far, extrapolated")
	require.Contains(t, body, `<tr id="item-1">`)
	require.Contains(t, body, "invalid phone; token ***")
}
