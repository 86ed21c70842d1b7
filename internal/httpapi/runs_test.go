package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
)

type createRunResponse struct {
	RunID   string `json:"run_id"`
	Existed bool   `json:"existed"`
}

func TestCreateRun(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "POST", "/api/v1/workflows/digest/runs", strReader(`{"team":"ops","n":2}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	resp := decode[createRunResponse](t, w)
	require.NotEmpty(t, resp.RunID)
	require.False(t, resp.Existed)
	require.Equal(t, "/api/v1/runs/"+resp.RunID, w.Header().Get("Location"))
	require.Empty(t, w.Header().Get("Idempotent-Replayed"))

	c := f.rt.triggerCalls()[0]
	require.Equal(t, "digest", c.Workflow)
	require.Equal(t, engine.KindManual, c.Trigger.Kind)
	require.Equal(t, f.now, c.Trigger.Time)
	require.Equal(t, map[string]any{"team": "ops", "n": int64(2)}, c.Trigger.Body)
	require.Empty(t, c.Key)

	w = f.do(t, "GET", w.Header().Get("Location"), nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	run := decode[engine.RunView](t, w)
	require.Equal(t, resp.RunID, run.RunID)
	require.Equal(t, "queued", run.Status)
	require.NotNil(t, run.Steps)
}

func TestCreateRunInput(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, tc := range []struct {
		name, body string
		want       any
		wantErr    string
	}{
		{name: "empty is null", body: "", want: nil},
		{name: "null", body: "null", want: nil},
		{name: "list", body: `[1, 2.5, "x"]`, want: []any{int64(1), 2.5, "x"}},
		{name: "big integer", body: `{"n": 9007199254740993}`, want: map[string]any{"n": int64(9007199254740993)}},
		{name: "truncated", body: `{"team":`, wantErr: "input is not valid JSON: unexpected end of JSON input"},
		{name: "bad token", body: `{team: 1}`, wantErr: "input is not valid JSON: invalid character 't' looking for beginning of object key string (at byte 2)"},
		{name: "number out of range", body: `{"n": 1e400}`, wantErr: "input is not valid JSON: number out of range at /n"},
		{name: "two documents", body: `{} {}`, wantErr: "input is not valid JSON: unexpected data after the JSON value (at byte 3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.rt.triggerCalls())
			w := f.do(t, "POST", "/api/v1/workflows/digest/runs", strReader(tc.body))
			if tc.wantErr != "" {
				require.Equal(t, tc.wantErr, errorOf(t, w, http.StatusBadRequest))
				require.Len(t, f.rt.triggerCalls(), before)
				return
			}
			require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
			calls := f.rt.triggerCalls()
			require.Equal(t, tc.want, calls[len(calls)-1].Trigger.Body)
		})
	}
}

func TestCreateRunIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	post := func(key string) (*createRunResponse, http.Header) {
		t.Helper()
		w := f.do(t, "POST", "/api/v1/workflows/digest/runs", strReader(`{}`), append(bearer(), "Idempotency-Key", key)...)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		resp := decode[createRunResponse](t, w)
		return &resp, w.Header()
	}
	first, h := post("order-42")
	require.False(t, first.Existed)
	require.Empty(t, h.Get("Idempotent-Replayed"))
	again, h := post("order-42")
	require.Equal(t, first.RunID, again.RunID, "a repeat returns the first run")
	require.True(t, again.Existed)
	require.Equal(t, "true", h.Get("Idempotent-Replayed"))
	require.Equal(t, "/api/v1/runs/"+first.RunID, h.Get("Location"))
	other, _ := post("order-43")
	require.NotEqual(t, first.RunID, other.RunID)

	calls := f.rt.triggerCalls()
	require.Equal(t, "api:digest:order-42", calls[0].Key)
	require.Equal(t, 24*time.Hour, calls[0].TTL)

	// Another workflow with the same key is another run.
	w := f.do(t, "POST", "/api/v1/workflows/open/runs", nil, append(bearer(), "Idempotency-Key", "order-42")...)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.NotEqual(t, first.RunID, decode[createRunResponse](t, w).RunID)

	long := strings.Repeat("é", 128) // 256 bytes
	w = f.do(t, "POST", "/api/v1/workflows/digest/runs", nil, append(bearer(), "Idempotency-Key", long)...)
	require.Equal(t, "the Idempotency-Key is 256 bytes, longer than 255", errorOf(t, w, http.StatusBadRequest))
	_, _ = post(long[:255-1] + "k") // 255 bytes is fine
}

func TestCreateRunIdempotencyKeyReusedWithADifferentBody(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	post := func(key, body string) *httptest.ResponseRecorder {
		t.Helper()
		return f.do(t, "POST", "/api/v1/workflows/digest/runs", strReader(body), append(bearer(), "Idempotency-Key", key)...)
	}
	w := post("deploy-42", `{"service":"db","level":2}`)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	first := decode[createRunResponse](t, w)

	// The same request, spelled differently, is a true repeat.
	w = post("deploy-42", "{ \"level\": 2,\n  \"service\": \"db\" }")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	again := decode[createRunResponse](t, w)
	require.Equal(t, first.RunID, again.RunID)
	require.True(t, again.Existed)

	// Another body under the same key is refused, and starts nothing.
	for _, body := range []string{`{"service":"db","level":3}`, `{}`, ``, `[1]`} {
		w = post("deploy-42", body)
		msg := errorOf(t, w, http.StatusUnprocessableEntity)
		require.Contains(t, msg, "Idempotency-Key reused with a different request body")
		require.Contains(t, msg, `"deploy-42"`)
		require.Empty(t, w.Header().Get("Location"))
	}
	runs, err := f.rt.st.ListRuns(t.Context(), store.RunFilter{Workflow: "digest"})
	require.NoError(t, err)
	require.Len(t, runs, 1, "only the first request made a run")

	// The fingerprint is the workflow's too: the key is scoped by workflow,
	// so another workflow may use it with any body.
	w = f.do(t, "POST", "/api/v1/workflows/open/runs", strReader(`{"x":1}`), append(bearer(), "Idempotency-Key", "deploy-42")...)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
}

func TestCreateRunUnknownWorkflow(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "POST", "/api/v1/workflows/nope/runs", strReader(`{}`))
	require.Equal(t, `workflow "nope" not found`, errorOf(t, w, http.StatusNotFound))
	require.Empty(t, f.rt.triggerCalls())
}

func TestCreateRunRuntimeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		err        error
		code       int
		want       string
		retryAfter string
	}{
		{name: "removed by a reload", err: fmt.Errorf("%w %q", engine.ErrUnknownWorkflow, "digest"), code: http.StatusNotFound, want: `unknown workflow "digest"`},
		{name: "busy", err: fmt.Errorf("%w: too many runs queued; try again later", httpapi.ErrUnavailable), code: http.StatusServiceUnavailable, want: "start run: service unavailable: too many runs queued", retryAfter: "5"},
		{name: "client gone", err: context.Canceled, code: http.StatusServiceUnavailable, want: "context canceled", retryAfter: "5"},
		{name: "invalid", err: fmt.Errorf("%w: idempotency key is not UTF-8", store.ErrInvalid), code: http.StatusBadRequest, want: "idempotency key is not UTF-8"},
		{name: "secret in error", err: errorWithSecret(), code: http.StatusInternalServerError, want: "start run: store: connecting with token *** failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, "")
			f.rt.triggerErr = tc.err
			w := f.do(t, "POST", "/api/v1/workflows/digest/runs", strReader(`{}`))
			require.Contains(t, errorOf(t, w, tc.code), tc.want)
			require.Equal(t, tc.retryAfter, w.Header().Get("Retry-After"))
			requireNoSecret(t, w.Body.String())
		})
	}
}

func TestGetRun(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	ctx := context.Background()
	created := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	// Stored before the project knew the token (a reload added it): the
	// trigger and outputs are masked on the way out too.
	run := store.Run{ID: "run-1", Workflow: "digest", Status: store.StatusFailed, Trigger: json.RawMessage(`{"kind":"manual","body":{"t":"` + chatapiToken + `"}}`),
		Error: "step notify failed: token " + chatapiToken + " rejected", CreatedAt: created, StartedAt: created, FinishedAt: created.Add(time.Second)}
	_, _, err := f.rt.st.CreateRun(ctx, run, "", 0)
	require.NoError(t, err)
	key := store.StepKey{RunID: "run-1", StepID: "notify", Item: store.NoItem}
	require.NoError(t, f.rt.st.RecordStep(ctx, store.StepRecord{StepKey: key, Status: store.StatusFailed, Attempts: 1, Provider: "chatapi",
		Error: &store.StepError{Class: "permanent", Message: "401 for token " + chatapiToken}, StartedAt: created, FinishedAt: created}))
	first := store.StepKey{RunID: "run-1", StepID: "lookup", Item: store.NoItem}
	require.NoError(t, f.rt.st.RecordStep(ctx, store.StepRecord{StepKey: first, Status: store.StatusSucceeded, Attempts: 1, Provider: "chatapi",
		Output: json.RawMessage(`{"echo":"` + chatapiToken + `"}`), StartedAt: created, FinishedAt: created}))

	w := f.do(t, "GET", "/api/v1/runs/run-1", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	requireNoSecret(t, w.Body.String())
	v := decode[engine.RunView](t, w)
	require.Equal(t, "failed", v.Status)
	require.Equal(t, "step notify failed: token *** rejected", v.Error)
	require.JSONEq(t, `{"kind":"manual","body":{"t":"***"}}`, string(v.Trigger))
	require.Len(t, v.Steps, 2)
	for _, s := range v.Steps {
		switch s.ID {
		case "notify":
			require.Equal(t, engine.ErrorText("401 for token ***"), s.Error)
			require.Equal(t, "chatapi", s.Provider)
		case "lookup":
			require.JSONEq(t, `{"echo":"***"}`, string(s.Output))
		}
	}

	w = f.do(t, "GET", "/api/v1/runs/nope", nil)
	require.Equal(t, `run "nope" not found`, errorOf(t, w, http.StatusNotFound))
}

// seedRuns stores runs of two workflows, one a minute, oldest first; it
// returns their IDs newest first.
func seedRuns(t *testing.T, st store.Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	for i := range n {
		wf, status := "digest", store.StatusSucceeded
		if i%2 == 1 {
			wf, status = "open", store.StatusFailed
		}
		id := fmt.Sprintf("run-%03d", i)
		_, _, err := st.CreateRun(ctx, store.Run{ID: id, Workflow: wf, Status: status, CreatedAt: base.Add(time.Duration(i) * time.Minute)}, "", 0)
		require.NoError(t, err)
		ids[n-1-i] = id
	}
	return ids
}

type listRunsResponse struct {
	Runs       []engine.RunView `json:"runs"`
	NextBefore string           `json:"next_before"`
}

func listIDs(t *testing.T, f *fixture, query string) ([]string, string) {
	t.Helper()
	w := f.do(t, "GET", "/api/v1/runs"+query, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	resp := decode[listRunsResponse](t, w)
	require.NotNil(t, resp.Runs)
	ids := make([]string, len(resp.Runs))
	for i, r := range resp.Runs {
		ids[i] = r.RunID
	}
	return ids, resp.NextBefore
}

func TestListRuns(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	empty, next := listIDs(t, f, "")
	require.Empty(t, empty)
	require.Empty(t, next)

	all := seedRuns(t, f.rt.st, 60)

	got, next := listIDs(t, f, "")
	require.Equal(t, all[:httpapi.DefaultRunsLimit], got, "newest first, 50 by default")
	require.Equal(t, all[httpapi.DefaultRunsLimit-1], next)
	got, next = listIDs(t, f, "?before="+next)
	require.Equal(t, all[httpapi.DefaultRunsLimit:], got)
	require.Empty(t, next, "the last page has no next")

	got, next = listIDs(t, f, "?limit=3")
	require.Equal(t, all[:3], got)
	require.Equal(t, all[2], next)

	got, _ = listIDs(t, f, "?workflow=open&limit=500")
	require.Len(t, got, 30)
	got, _ = listIDs(t, f, "?workflow=digest&status=succeeded&limit=2")
	require.Equal(t, []string{all[1], all[3]}, got)
	got, _ = listIDs(t, f, "?workflow=digest&status=failed")
	require.Empty(t, got)
	got, _ = listIDs(t, f, "?workflow=removed-long-ago")
	require.Empty(t, got, "runs of workflows no longer in the project may be listed")
}

func TestListRunsValidation(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	seedRuns(t, f.rt.st, 2)
	for query, want := range map[string]string{
		"?status=done":                    `unknown status "done" (want queued, running, waiting, needs_attention, interrupted, succeeded, failed, skipped, canceled)`,
		"?limit=0":                        `limit "0" is not a number from 1 to 500`,
		"?limit=501":                      `limit "501" is not a number from 1 to 500`,
		"?limit=-1":                       `limit "-1" is not a number from 1 to 500`,
		"?limit=ten":                      `limit "ten" is not a number from 1 to 500`,
		"?workfow=digest":                 `unknown query parameter "workfow" (want workflow, status, trigger, since, until, limit, before)`,
		"?status=failed&status=succeeded": `query parameter "status" is given more than once`,
		"?before=run-999":                 `before: run "run-999" not found`,
	} {
		t.Run(query, func(t *testing.T) {
			w := f.do(t, "GET", "/api/v1/runs"+query, nil)
			require.Equal(t, want, errorOf(t, w, http.StatusBadRequest))
		})
	}
}
