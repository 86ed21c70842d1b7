package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// forEach runs a for_each step. The items list is evaluated once; each
// item's input is rendered when a worker takes it, and of a finished item
// only its output's JSON is kept (for the step's output, the list of item
// outputs in input order) and its status is folded into counters
// (itemTally), so a 100,000-item fan-out holds bounded per-item state: the
// items' records, with their attempts, are in the store, where the run
// object reads them.
func (x *execution) forEach(ctx context.Context, step *config.Step) (stepResult, error) {
	key := store.StepKey{RunID: x.run.ID, StepID: step.ID, Item: store.NoItem}
	started := x.e.opts.Now()
	ectx, cancel := exprContext(ctx, step)
	list, err := step.ForEach.RenderListContext(ectx, x.scope)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return stepResult{}, ErrInterrupted
		}
		return x.record(ctx, step, key, stepResult{Status: store.StatusFailed, Error: x.stepError(string(sdk.ClassPermanent), "for_each: "+err.Error())}, started)
	}
	// The aggregate record, running, says how many items there are, for
	// progress; it is written once, not again on a resume.
	if rec, ok := x.records[key]; !ok || rec.Total != len(list) {
		if _, err := x.record(ctx, step, key, stepResult{Status: store.StatusRunning, Provider: step.Provider, Total: len(list)}, started); err != nil {
			return stepResult{}, err
		}
	}
	x.e.emit(Event{Type: StepStarted, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: store.NoItem, Items: len(list), Provider: step.Provider, Action: step.Action})
	x.log().Info("step started", "step", step.ID, "items", len(list))
	t := newItemTally(len(list))
	workers := min(max(step.Parallelism, 1), len(list))
	next := 0
	var mu sync.Mutex // guards next
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(list) {
					return
				}
				if ctx.Err() != nil {
					t.fail(ErrInterrupted)
					return
				}
				res, err := x.call(ctx, step, i, x.scope.WithItem(list[i], i))
				if err != nil {
					t.fail(err)
					continue
				}
				if err := t.add(i, res); err != nil {
					t.fail(fmt.Errorf("encode output of step %s item %d: %w", step.ID, i, err))
				}
			}
		}()
	}
	wg.Wait()
	list = nil
	if err := errors.Join(t.errs...); err != nil {
		if errors.Is(err, ErrInterrupted) {
			return stepResult{}, ErrInterrupted
		}
		return stepResult{}, err
	}
	total := len(t.outputs)
	if t.delayed > 0 {
		// The items inside their windows went out; the run waits for the
		// first of the others to open.
		return stepResult{}, x.parkForWindow(ctx, step, t.opening, windowReason(step, t.opening, t.delayed, total))
	}
	agg := stepResult{Status: store.StatusSucceeded, Total: total, Attempts: t.attempts, Provider: t.provider}
	if agg.Provider == "" {
		agg.Provider = step.Provider
	}
	if t.attention > 0 {
		// The other items ran to their end; the step waits for the
		// in-doubt ones to be resolved.
		agg.Status = store.StatusNeedsAttention
		agg.Reason = fmt.Sprintf("%d of %d items are in doubt; %s", t.attention, total, t.attentionReason)
		if t.attention == 1 {
			agg.Reason = t.attentionReason
		}
		return x.record(ctx, step, key, agg, started)
	}
	if t.failed > 0 {
		agg.Status = store.StatusFailed
		msg, class := "", string(sdk.ClassPermanent)
		if t.firstError != nil {
			msg, class = t.firstError.Message, t.firstError.Class
		}
		agg.Error = x.stepError(class, fmt.Sprintf("%d of %d items failed; item %d: %s", t.failed, total, t.firstFailed, msg))
	}
	agg.Raw = t.joined()
	if x.readLater(step) {
		// The list of outputs in scope reads what the aggregate record
		// holds, as it does when the run resumes after the step.
		if agg.Output, err = t.decoded(); err != nil {
			return agg, fmt.Errorf("decode output of step %s: %w", step.ID, err)
		}
	}
	t = nil
	return x.record(ctx, step, key, agg, started)
}

// readLater reports whether a step after step may read its result: the
// last step's output is only recorded, never decoded for the scope.
func (x *execution) readLater(step *config.Step) bool {
	steps := x.wf.Steps
	return len(steps) == 0 || steps[len(steps)-1] != step
}

// itemTally is what a for_each step keeps of its finished items: each
// item's output as compact JSON, and counters with the first (lowest
// index) item of each kind the aggregate names. Its methods are safe for
// concurrent use.
type itemTally struct {
	mu      sync.Mutex
	outputs []json.RawMessage
	errs    []error
	// attempts sums the items' attempts; provider is that of the first
	// item that succeeded.
	attempts        int
	provider        string
	providerAt      int
	failed          int
	firstFailed     int
	firstError      *store.StepError
	attention       int
	attentionAt     int
	attentionReason string
	// delayed items wait for their send window, the first opening at
	// opening.
	delayed int
	opening time.Time
}

func newItemTally(n int) *itemTally {
	return &itemTally{outputs: make([]json.RawMessage, n), providerAt: n, firstFailed: n, attentionAt: n}
}

// fail records an error that ends the step (not an item's failure).
func (t *itemTally) fail(err error) {
	t.mu.Lock()
	t.errs = append(t.errs, err)
	t.mu.Unlock()
}

// add folds item i's result into the tally. The output is encoded as the
// aggregate's list encodes it, into a slice of its own size, so that the
// decoded value and the plugin's response can be collected.
func (t *itemTally) add(i int, r stepResult) error {
	raw, err := json.Marshal(r.Output)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outputs[i] = raw
	t.attempts += r.Attempts
	switch r.Status {
	case store.StatusSucceeded:
		if i < t.providerAt {
			t.provider, t.providerAt = r.Provider, i
		}
	case store.StatusFailed:
		t.failed++
		if i < t.firstFailed {
			t.firstFailed, t.firstError = i, r.Error
		}
	case store.StatusNeedsAttention:
		t.attention++
		if i < t.attentionAt {
			t.attentionAt, t.attentionReason = i, r.Reason
		}
	}
	if !r.opening.IsZero() {
		t.delayed++
		if t.opening.IsZero() || r.opening.Before(t.opening) {
			t.opening = r.opening
		}
	}
	return nil
}

// decoded returns the items' outputs in input order as the scope holds
// them, each decoded on its own (one decoder over the whole list would
// buffer all of it once more).
func (t *itemTally) decoded() ([]any, error) {
	out := make([]any, len(t.outputs))
	for i, o := range t.outputs {
		v, err := decodeValue(o)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// joined returns the JSON list of the items' outputs in input order.
func (t *itemTally) joined() json.RawMessage {
	n := 2
	for _, o := range t.outputs {
		n += len(o) + 1
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('[')
	for i, o := range t.outputs {
		if i > 0 {
			b.WriteByte(',')
		}
		if o == nil {
			o = json.RawMessage("null")
		}
		b.Write(o)
	}
	b.WriteByte(']')
	return b.Bytes()
}
