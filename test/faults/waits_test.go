package faults

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/signallink"
	"github.com/heraldhq/herald/internal/store"
)

// waitProject pages a phone, waits (a pause, then a read receipt or an
// acknowledgement), and sends a follow-up whose phone says how the wait
// ended.
const waitProject = `workflow "page" {
  trigger "webhook" {
    path = "page"
  }
  step "page" {
    uses = "chatapi.send_message"
    with = { phone = "14150000001", body = "Incident. Ack: {{ run.signal_url.ack }}" }
  }
  step "pause" {
    wait { duration = "{{PAUSE}}" }
  }
  step "ack" {
    wait_for {
      event   = "chatapi.ack"
      match   = "event.id == steps.page.output.id && event.status == 'viewed'"
      signal  = "ack"
      timeout = "{{TIMEOUT}}"
    }
  }
  step "after" {
    uses = "chatapi.send_message"
    with = { phone = "{{ steps.ack.output.matched ? '14150000002' : '14150000003' }}", body = "done" }
  }
}
`

func waitWorkflow(pause, timeout string) string {
	return strings.NewReplacer("{{PAUSE}}", pause, "{{TIMEOUT}}", timeout).Replace(waitProject)
}

// waitStatus polls the run until it has status st.
func (e *env) waitStatus(d time.Duration, id string, st store.Status) store.Run {
	e.t.Helper()
	var run store.Run
	waitFor(e.t, d, "run "+id+" to be "+string(st), func() bool {
		r, err := e.store().GetRun(context.Background(), id)
		run = r
		return err == nil && r.Status == st
	})
	return run
}

// stepOutput returns the output of a run's step.
func (e *env) stepOutput(id, step string) map[string]any {
	e.t.Helper()
	v, err := engine.View(context.Background(), e.store(), id)
	require.NoError(e.t, err)
	for _, s := range v.Steps {
		if s.ID == step {
			var out map[string]any
			require.NoError(e.t, json.Unmarshal(s.Output, &out), "%s", s.Output)
			return out
		}
	}
	e.t.Fatalf("run %s has no step %s", id, step)
	return nil
}

// TestWaitResumesOnceAfterRestart stops the host while a run waits, with
// SIGTERM and with kill -9, and starts another: the run continues once,
// at its deadline, and nothing is sent twice.
func TestWaitResumesOnceAfterRestart(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"sigterm", "kill"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, modeSQLite)
			e.project(waitWorkflow("8s", "1s"))
			r1 := e.start("r1")
			id := r1.hook(t, "page", map[string]any{}, "")
			run := e.waitStatus(time.Minute, id, store.StatusWaiting)
			require.Contains(t, run.Reason, "step pause waits until ")
			waitingSince := time.Now()
			if how == "kill" {
				r1.kill()
			} else {
				r1.stop(t)
			}
			r2 := e.start("r2")
			runs := e.waitRuns(2*time.Minute, id)
			require.Equal(t, store.StatusSucceeded, runs[0].Status, runs[0].Reason)
			elapsed := time.Since(waitingSince)
			require.GreaterOrEqual(t, elapsed, 7*time.Second, "the wait is not cut short by the restart")
			ws := e.store().(store.Waits)
			w, err := ws.GetWait(context.Background(), store.StepKey{RunID: id, StepID: "pause", Item: store.NoItem})
			require.NoError(t, err)
			require.False(t, w.ResolvedAt.Before(w.Deadline), "the wait ended at its deadline, not before")
			require.Less(t, w.ResolvedAt.Sub(w.Deadline), 30*time.Second, "and soon after it")
			ok, all := deliveries(t, e.sb)
			require.Equal(t, map[string]int{"14150000001": 1, "14150000003": 1}, all, "each message once; the ack timed out")
			require.Equal(t, all, ok)
			require.Equal(t, true, e.stepOutput(id, "ack")["timed_out"])
			r2.stop(t)
		})
	}
}

// TestSignalThroughAPIAndLink acknowledges one run through the API, one
// with herald runs signal, and another through its signed link: GET shows a page and delivers nothing,
// POST delivers once, a second use and a tampered link are refused.
func TestSignalThroughAPIAndLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, modeSQLite)
	key := strings.Repeat("k", 40)
	e.extra = append(e.extra, "HERALD_PUBLIC_URL=https://herald.example.com", signallink.KeyEnv+"="+key)
	e.project(waitWorkflow("1ms", "10m"))
	r := e.start("r1")

	viaAPI := r.hook(t, "page", map[string]any{}, "")
	e.waitStatus(time.Minute, viaAPI, store.StatusWaiting)
	status, body := r.post(t, "/api/v1/runs/"+viaAPI+"/signals/nack", nil, nil)
	require.Equal(t, http.StatusConflict, status, "%s", body)
	status, body = r.post(t, "/api/v1/runs/"+viaAPI+"/signals/ack", map[string]any{"by": "alice"}, nil)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	runs := e.waitRuns(time.Minute, viaAPI)
	require.Equal(t, store.StatusSucceeded, runs[0].Status, runs[0].Reason)
	out := e.stepOutput(viaAPI, "ack")
	require.Equal(t, map[string]any{"by": "alice"}, out["data"])
	require.Equal(t, true, out["matched"])

	viaCLI := r.hook(t, "page", map[string]any{}, "")
	e.waitStatus(time.Minute, viaCLI, store.StatusWaiting)
	cli := exec.Command(e.bin, "runs", "signal", viaCLI, "ack", "--data", `{"by":"cli"}`, "--server", "http://"+r.addr)
	cliOut, err := cli.CombinedOutput()
	require.NoError(t, err, "%s", cliOut)
	runs = e.waitRuns(time.Minute, viaCLI)
	require.Equal(t, store.StatusSucceeded, runs[0].Status, runs[0].Reason)
	require.Equal(t, map[string]any{"by": "cli"}, e.stepOutput(viaCLI, "ack")["data"])
	cli = exec.Command(e.bin, "runs", "signal", viaCLI, "ack", "--server", "http://"+r.addr)
	cliOut, err = cli.CombinedOutput()
	require.Error(t, err, "a second signal is refused: %s", cliOut)

	viaLink := r.hook(t, "page", map[string]any{}, "")
	e.waitStatus(time.Minute, viaLink, store.StatusWaiting)
	signer, err := signallink.New([]byte(key), "https://herald.example.com")
	require.NoError(t, err)
	link, err := url.Parse(signer.URL(viaLink, "ack"))
	require.NoError(t, err)
	page := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, "http://"+r.addr+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, html := page(http.MethodGet, link.Path)
	require.Equal(t, http.StatusOK, code, html)
	require.Contains(t, html, `<form method="post"`)
	time.Sleep(500 * time.Millisecond)
	got, err := e.store().GetRun(context.Background(), viaLink)
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, got.Status, "opening the link (a preview) acknowledges nothing")

	code, html = page(http.MethodPost, link.Path+"x")
	require.Equal(t, http.StatusForbidden, code, html)
	code, html = page(http.MethodPost, link.Path)
	require.Equal(t, http.StatusOK, code, html)
	require.Contains(t, html, "Confirmed")
	runs = e.waitRuns(time.Minute, viaLink)
	require.Equal(t, store.StatusSucceeded, runs[0].Status, runs[0].Reason)
	require.Equal(t, map[string]any{"via": "link"}, e.stepOutput(viaLink, "ack")["data"])
	code, html = page(http.MethodPost, link.Path)
	require.Equal(t, http.StatusConflict, code, html)
	require.Contains(t, html, "already used")

	ok, _ := deliveries(t, e.sb)
	require.Equal(t, 3, ok["14150000002"], "all acknowledged: no escalation")
	require.Zero(t, ok["14150000003"])
}

// TestEventToEitherReplicaResumesOnce parks runs on two PostgreSQL
// replicas and posts each run's read receipt to the other replica, or to
// both: every run resumes exactly once.
func TestEventToEitherReplicaResumesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, modePostgres)
	e.project(waitWorkflow("1ms", "10m"))
	rs := []*replica{e.start("r1"), e.start("r2")}
	const n = 6
	ids := make([]string, n)
	for i := range ids {
		ids[i] = rs[i%2].hook(t, "page", map[string]any{}, "")
	}
	for _, id := range ids {
		e.waitStatus(2*time.Minute, id, store.StatusWaiting)
	}
	for i, id := range ids {
		page := e.stepOutput(id, "page")
		ack := map[string]any{"instanceId": "229607", "ack": []map[string]any{{"id": page["id"], "chatId": "14150000001@c.us", "status": "viewed"}}}
		targets := []*replica{rs[(i+1)%2]}
		if i%3 == 0 {
			targets = rs // the same receipt to both replicas at once
		}
		done := make(chan struct{}, len(targets))
		for _, r := range targets {
			go func() {
				status, body := r.post(t, "/providers/chatapi/webhook", ack, nil)
				if status != http.StatusAccepted && status != http.StatusOK {
					t.Errorf("webhook to %s: %d %s", r.name, status, body)
				}
				done <- struct{}{}
			}()
		}
		for range targets {
			<-done
		}
	}
	runs := e.waitRuns(2*time.Minute, ids...)
	for _, r := range runs {
		require.Equal(t, store.StatusSucceeded, r.Status, r.Reason)
	}
	ok, all := deliveries(t, e.sb)
	require.Equal(t, 2*n, all["14150000001"]+all["14150000002"]+all["14150000003"], "no message sent twice")
	require.Equal(t, n, ok["14150000002"], "every run resumed by its receipt, once")
	for _, id := range ids {
		require.Equal(t, true, e.stepOutput(id, "ack")["matched"])
	}
}
