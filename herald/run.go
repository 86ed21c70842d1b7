package herald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// Status is the state of a run or a step.
type Status string

// The statuses of runs and steps. Steps are never queued.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	// StatusSkipped marks a run whose when condition was false (or whose
	// workflow was at its concurrency limit with on_limit = "skip"), or a
	// step whose if condition was false.
	StatusSkipped Status = "skipped"
	// StatusCanceled marks a run an operator canceled.
	StatusCanceled Status = "canceled"
	// StatusWaiting marks a run parked on a wait, a wait_for or a send
	// window.
	StatusWaiting Status = "waiting"
	// StatusNeedsAttention marks a run stopped on an in-doubt send until an
	// operator resolves it.
	StatusNeedsAttention Status = "needs_attention"
	// StatusInterrupted marks a running run whose executing process stopped
	// (its heartbeat is stale); it is never stored, only shown.
	StatusInterrupted Status = "interrupted"
)

// Final reports whether s is an end state: succeeded, failed, skipped or
// canceled.
func (s Status) Final() bool { return store.Status(s).Final() }

// IdempotencyTTL is how long an idempotency key passed to Start keeps
// returning the run it first created.
const IdempotencyTTL = 24 * time.Hour

// Run is one execution of a workflow, as the store records it. It encodes
// as JSON like the run objects of `herald runs show --output json` and the
// HTTP API, with times left out until they are known.
type Run struct {
	ID       string `json:"run_id"`
	Workflow string `json:"workflow"`
	Status   Status `json:"status"`
	// Trigger is what started the run, as workflows read it: kind, time,
	// body (Start's input) and, for webhooks and events, headers, query and
	// event.
	Trigger json.RawMessage `json:"trigger"`
	// Steps are the steps recorded so far, in the order they started.
	Steps []Step `json:"steps"`
	// Error says why the run failed or was skipped; it is empty otherwise.
	Error string `json:"error,omitempty"`
	// Reason says in one line why the run was skipped, failed, canceled or
	// needs attention.
	Reason string `json:"reason,omitempty"`
	// Attempt counts how often the run was started or resumed.
	Attempt    int       `json:"attempt"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Step is one step of a Run.
type Step struct {
	ID       string `json:"id"`
	Status   Status `json:"status"`
	Attempts int    `json:"attempts"`
	// Provider is the provider instance that served the step; with a
	// fallback, the one that answered last.
	Provider string `json:"provider,omitempty"`
	// Output is the action's JSON output; for a for_each step, the list of
	// the items' outputs in input order; null when there is none.
	Output json.RawMessage `json:"output"`
	// Error and ErrorClass (retryable, permanent or rate_limited) describe
	// a failure.
	Error      string `json:"error,omitempty"`
	ErrorClass string `json:"error_class,omitempty"`
}

// Step returns the step with the given id.
func (r *Run) Step(id string) (Step, bool) {
	for _, s := range r.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

func newRun(v *engine.RunView) *Run {
	r := &Run{
		ID:        v.RunID,
		Workflow:  v.Workflow,
		Status:    Status(v.Status),
		Trigger:   v.Trigger,
		Steps:     make([]Step, 0, len(v.Steps)),
		Error:     v.Error,
		Reason:    v.Reason,
		Attempt:   v.Attempt,
		CreatedAt: v.CreatedAt,
	}
	if v.StartedAt != nil {
		r.StartedAt = *v.StartedAt
	}
	if v.FinishedAt != nil {
		r.FinishedAt = *v.FinishedAt
	}
	for _, s := range v.Steps {
		r.Steps = append(r.Steps, Step{
			ID:         s.ID,
			Status:     Status(s.Status),
			Attempts:   s.Attempts,
			Provider:   s.Provider,
			Output:     s.Output,
			Error:      string(s.Error),
			ErrorClass: s.ErrorClass,
		})
	}
	return r
}

// Get returns the run with the given id as the store holds it now.
func (h *Herald) Get(ctx context.Context, runID string) (*Run, error) {
	v, err := engine.View(ctx, h.store, runID)
	if err != nil {
		return nil, publicError(fmt.Errorf("run %s: %w", runID, err))
	}
	return newRun(v), nil
}

// Run starts workflow as a manual trigger, with input as trigger.body, and
// waits for the run to end. The run's outcome is in the returned Run: a
// workflow that fails returns a Run with StatusFailed and a nil error. When
// ctx ends first, Run returns the run as it stands with ctx's error; the
// run goes on, and Wait picks it up by its ID.
func (h *Herald) Run(ctx context.Context, workflow string, input any) (*Run, error) {
	id, err := h.Start(ctx, workflow, input, "")
	if err != nil {
		return nil, err
	}
	return h.Wait(ctx, id)
}

// Start creates a run of workflow as a manual trigger, with input (any value
// encoding/json encodes: a map, a struct, a json.RawMessage) as
// trigger.body, and returns its id without waiting for it.
//
// With an idempotencyKey, a repeat with the same key for the same workflow
// within IdempotencyTTL creates nothing and returns the first run's id; keys
// are shared with the Idempotency-Key header of the HTTP API's
// POST /api/v1/workflows/{name}/runs.
//
// While Serve runs, the run goes through its worker pool and the workflow's
// concurrency limit. Otherwise it executes at once on a goroutine of its
// own, as `herald run` executes it, and finishes there even when Serve
// starts meanwhile.
func (h *Herald) Start(ctx context.Context, workflow string, input any, idempotencyKey string) (string, error) {
	trig := engine.Trigger{Kind: engine.KindManual, Body: input}
	key := ""
	if idempotencyKey != "" {
		key = "api:" + workflow + ":" + idempotencyKey
	}
	id, err := h.trigger(ctx, workflow, trig, key, IdempotencyTTL)
	return id, publicError(err)
}

// trigger creates a run and hands it to whatever executes runs now: the
// server while Serve runs, else a goroutine of its own. A run an
// idempotency key returns is not executed again.
func (h *Herald) trigger(ctx context.Context, workflow string, trig engine.Trigger, key string, ttl time.Duration) (string, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	switch h.state {
	case stateClosed:
		return "", ErrClosed
	case stateServing:
		id, _, err := h.srv.Trigger(ctx, workflow, trig, key, ttl)
		return id, err
	}
	run, existed, err := h.engine().Create(ctx, workflow, trig, key, ttl)
	if err != nil || existed {
		return run.ID, err
	}
	ctx = h.backgroundCtx
	h.backgroundMu.Lock()
	h.backgroundRuns[run.ID] = true
	h.backgroundMu.Unlock()
	h.background.Add(1)
	go func() {
		defer h.background.Done()
		_, err := h.engine().Execute(ctx, run.ID)
		h.backgroundMu.Lock()
		delete(h.backgroundRuns, run.ID)
		h.backgroundMu.Unlock()
		// An interrupted run stays in the store and resumes under Serve.
		if err != nil && !errors.Is(err, engine.ErrInterrupted) && ctx.Err() == nil {
			h.logger.Error("run could not be executed", "run_id", run.ID, "workflow", workflow, "error", err)
		}
		h.events.stopped(run.ID)
	}()
	return run.ID, nil
}

// pollInterval is how often Wait reads a run that is not executing in this
// process (another host sharing the store may be executing it).
const pollInterval = 500 * time.Millisecond

// Wait waits for the run with the given id to end and returns it. When the
// run executes in this process, every event of the run has been delivered
// to the Subscribe callbacks by the time Wait returns. When ctx ends first,
// Wait returns the run as it stands with ctx's error.
func (h *Herald) Wait(ctx context.Context, runID string) (*Run, error) {
	for {
		done, release := h.events.watch(runID)
		run, err := h.Get(ctx, runID)
		if err != nil && ctx.Err() != nil {
			// ctx ended before the read (a short deadline on a busy host):
			// the run as it stands is still owed with ctx's error.
			if stood, gerr := h.Get(context.WithoutCancel(ctx), runID); gerr == nil {
				release()
				return stood, ctx.Err()
			}
		}
		if err != nil {
			release()
			return nil, err
		}
		executing := h.events.executing(runID)
		if run.Status.Final() && !executing {
			release()
			return run, nil
		}
		// A run executing here announces its end; any other is polled.
		var poll <-chan time.Time
		var timer *time.Timer
		if !executing {
			timer = time.NewTimer(pollInterval)
			poll = timer.C
		}
		select {
		case <-done:
		case <-poll:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		release()
		if err := ctx.Err(); err != nil {
			return run, err
		}
	}
}
