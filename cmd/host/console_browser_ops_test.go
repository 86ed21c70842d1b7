package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
)

// consoleFallbackChecks checks the run page of page-oncall: two 500s from
// chatapi, each an attempt with its masked request, then the fallback hop
// to whatsapp_cc that succeeded.
func consoleFallbackChecks(t *testing.T, b *browser, page string) {
	t.Helper()
	rows := eval[[]string](b, `Array.from(document.querySelectorAll("#step-notify tr.attempt")).map(r => r.innerText.replace(/\s+/g, " "))`)
	require.Len(t, rows, 3, "two chatapi attempts and the fallback: %q", rows)
	require.Contains(t, rows[0], "chatapi")
	require.Contains(t, rows[0], "retryable")
	require.Contains(t, rows[0], "500")
	require.Contains(t, rows[1], "chatapi")
	require.Contains(t, rows[2], "whatsapp_cc")
	require.Contains(t, rows[2], "succeeded")
	require.Contains(t, b.text("#step-notify"), "fallback", "the hop is marked")
}

// consoleMaskedRequest checks the request page-oncall's first attempt
// sent, as the run page shows it: the instance token masked.
func consoleMaskedRequest(t *testing.T, b *browser, page string) {
	t.Helper()
	require.Contains(t, page, "sendMessage?token=***")
	b.do("unfold the first request", chromedp.Click(chromedp.CSS("#step-notify details.exchange-details summary")))
}

// consoleRetry fails two-step at its second step, lifts the sandbox fault
// and retries the run from that step in the browser.
func consoleRetry(t *testing.T, e *serveEnv, b *browser) {
	e.sandbox.Reset()
	e.sandbox.AddFault(sandbox.Fault{Provider: "chitchatlabs", Status: 400, Body: `{"message":"template oncall is paused"}`})
	id := e.startRunWithToken("two-step", `{}`)
	e.waitStatus(id, "failed")
	b.open("/ui/runs/" + id)
	page := b.html()
	require.Contains(t, b.text("#step-second"), "failed")
	require.Contains(t, page, "template oncall is paused")
	b.shot("run-failed")

	e.sandbox.Reset() // the fault is lifted
	_ = eval[bool](b, "window.heraldBeforeRetry = true")
	b.click("retry from the failing step", `button[data-step="second"]`)
	// The POST answers with a redirect to the run's page: a new document.
	b.waitFor("the run page after the retry", fmt.Sprintf(`window.heraldBeforeRetry === undefined && document.readyState === "complete" && location.pathname === "/ui/runs/%s" && document.getElementById("action-error") === null`, id), 15*time.Second)
	_ = eval[bool](b, "window.heraldNoReload = true")
	b.waitFor("the retried run succeeded", `document.getElementById("run-status").innerText.includes("succeeded")`, 30*time.Second)
	require.True(t, eval[bool](b, "window.heraldNoReload === true"))
	b.html()
	b.shot("run-retried")
	run := e.apiRun(id)
	require.Equal(t, "succeeded", run["status"])
	require.EqualValues(t, 2, run["attempt"], "a retry continues the same run")
	require.Empty(t, e.sandbox.Requests("chatapi"), "the first step, which succeeded, is not sent again")
	require.Len(t, e.sandbox.Requests("chitchatlabs"), 1)
}

// consoleCancel cancels a run whose send hangs in the provider.
func consoleCancel(t *testing.T, e *serveEnv, b *browser) {
	e.sandbox.Reset()
	e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 60_000})
	defer e.sandbox.Reset()
	id := e.startRunWithToken("slow", `{}`)
	e.waitStatus(id, "running")
	b.open("/ui/runs/" + id)
	require.Contains(t, b.text("#run-status"), "running")
	b.shot("run-running")
	start := time.Now()
	b.click("cancel", "#cancel")
	b.waitFor("the run canceled", `document.getElementById("run-status").innerText.includes("canceled")`, 15*time.Second)
	t.Logf("canceled %s in %s (click to page)", id, time.Since(start).Round(time.Millisecond))
	b.html()
	b.shot("run-canceled")
	require.Equal(t, "canceled", e.apiRun(id)["status"])
}
