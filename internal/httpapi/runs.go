package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// createRunResponse answers a manual trigger.
type createRunResponse struct {
	RunID string `json:"run_id"`
	// Existed is set when an Idempotency-Key repeat returned an earlier run.
	Existed bool `json:"existed"`
}

// createRun serves POST /api/v1/workflows/{name}/runs: a manual trigger
// with the body, JSON, as trigger.body.
func (a *api) createRun(w http.ResponseWriter, r *http.Request) {
	name := runsRoute.pathValue(r)
	p := a.rt.Project()
	if p == nil {
		a.fail(w, http.StatusServiceUnavailable, "no project is loaded")
		return
	}
	if _, ok := p.Workflows[name]; !ok {
		a.fail(w, http.StatusNotFound, "workflow %q not found", name)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	}
	wait, err := waitParam(r)
	if err != nil {
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	}
	body, ok := a.readBodyOrFail(w, r)
	if !ok {
		return
	}
	input, err := decodeJSON(body)
	var deep *engine.JSONDepthError
	switch {
	case errors.As(err, &deep):
		a.fail(w, http.StatusBadRequest, "input: %s", err)
		return
	case err != nil:
		a.fail(w, http.StatusBadRequest, "input is not valid JSON: %s", err)
		return
	}
	t := engine.Trigger{Kind: engine.KindManual, Time: a.now(), Body: input, NoWaiter: wait == 0}
	scoped := ""
	if key != "" {
		scoped = "api:" + name + ":" + key
		t.RequestFingerprint = requestFingerprint(name, input)
	}
	var hold *waitHold
	if wait > 0 {
		// Subscribed before the run exists, its end cannot pass unseen.
		hold = a.holdWait()
		defer hold.done()
	}
	id, existed, err := a.rt.Trigger(r.Context(), name, t, scoped, IdempotencyTTL)
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		a.keyReused(w, key)
		return
	}
	if err != nil {
		a.runtimeError(w, r, private, "start run", err)
		return
	}
	a.storeUp()
	w.Header().Set("Location", "/api/v1/runs/"+url.PathEscape(id))
	if existed {
		w.Header().Set("Idempotent-Replayed", "true")
		hold.done() // an older run: it may have ended before the hold
		hold = nil
	}
	if wait > 0 && a.respondWithRun(w, r, id, wait, hold) {
		return
	}
	a.writeJSON(w, http.StatusAccepted, createRunResponse{RunID: id, Existed: existed})
}

// getRun serves GET /api/v1/runs/{id}: the run object.
func (a *api) getRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := engine.View(r.Context(), a.rt.Store(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.fail(w, http.StatusNotFound, "run %q not found", id)
		return
	case errors.Is(err, store.ErrInvalid):
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	case err != nil:
		a.runtimeError(w, r, private, "read run", err)
		return
	}
	a.writeRunView(w, http.StatusOK, a.maskView(v))
}

// listRunsResponse answers GET /api/v1/runs.
type listRunsResponse struct {
	Runs []*engine.RunView `json:"runs"`
	// NextBefore, set when more runs match, is the before value of the
	// next page.
	NextBefore string `json:"next_before,omitempty"`
}

// runsParams are the query parameters GET /api/v1/runs takes.
var runsParams = []string{"workflow", "status", "trigger", "since", "until", "limit", "before"}

// triggerKinds are the kinds of trigger a run can be started by.
var triggerKinds = []string{"cron", "webhook", "event", "manual"}

// listRuns serves GET /api/v1/runs?workflow=&status=&trigger=&since=&until=
// &limit=&before=: run objects, newest first, a page at a time (before is
// the next_before of the previous page).
func (a *api) listRuns(w http.ResponseWriter, r *http.Request) {
	filter, err := runFilter(r.URL.Query())
	if err != nil {
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	}
	limit := filter.Limit
	// One more than asked tells whether there is a next page.
	filter.Limit++
	st := a.rt.Store()
	runs, err := st.ListRuns(r.Context(), filter)
	switch {
	case filter.Before != "" && errors.Is(err, store.ErrNotFound):
		a.fail(w, http.StatusBadRequest, "before: run %q not found", filter.Before)
		return
	case errors.Is(err, store.ErrInvalid):
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	case err != nil:
		a.runtimeError(w, r, private, "list runs", err)
		return
	}
	resp := listRunsResponse{Runs: make([]*engine.RunView, 0, min(len(runs), limit))}
	if len(runs) > limit {
		runs = runs[:limit]
		resp.NextBefore = runs[limit-1].ID
	}
	for _, run := range runs {
		recs, err := st.StepRecords(r.Context(), run.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			a.runtimeError(w, r, private, "read run "+run.ID, err)
			return
		}
		resp.Runs = append(resp.Runs, a.maskView(engine.NewView(run, recs)))
	}
	a.writeJSON(w, http.StatusOK, resp)
}

// runFilter reads and checks the query of GET /api/v1/runs.
func runFilter(q url.Values) (store.RunFilter, error) {
	f := store.RunFilter{Limit: DefaultRunsLimit}
	for name, vs := range q {
		if !slices.Contains(runsParams, name) {
			return f, fmt.Errorf("unknown query parameter %q (want %s)", name, strings.Join(runsParams, ", "))
		}
		if len(vs) > 1 {
			return f, fmt.Errorf("query parameter %q is given more than once", name)
		}
	}
	f.Workflow = q.Get("workflow")
	f.Before = q.Get("before")
	if s := q.Get("status"); s != "" {
		st, err := store.ParseRunStatus(s)
		if err != nil {
			return f, err
		}
		f.Status = st
	}
	if s := q.Get("trigger"); s != "" {
		if !slices.Contains(triggerKinds, s) {
			return f, fmt.Errorf("unknown trigger kind %q (want %s)", s, strings.Join(triggerKinds, ", "))
		}
		f.TriggerKind = s
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-03-29T07:00:00Z", p.name, s)
			}
			*p.t = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxRunsLimit {
			return f, fmt.Errorf("limit %q is not a number from 1 to %d", s, MaxRunsLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// maskView masks the error texts, trigger and outputs of a run object. The
// engine masks what it records; this also covers secrets added by a reload
// since.
func (a *api) maskView(v *engine.RunView) *engine.RunView {
	if a.opts.Masker == nil {
		return v
	}
	v.Mask(a.opts.Masker())
	return v
}
