package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// ErrNotCreated is returned by ExecuteNew when the run was not stored: its
// creation failed, or its idempotency key named a live run. Admission.Admitted
// was told why; nothing was sent.
var ErrNotCreated = errors.New("run was not created")

// Admission is a run for ExecuteNew: made by NewRun, not stored yet.
type Admission struct {
	// Run is the queued run NewRun returned.
	Run store.Run
	// IdemKey and TTL guard its creation as Create's do.
	IdemKey string
	TTL     time.Duration
	// Admitted, when set, is called once with the outcome of the run's
	// creation, as soon as it is durable and before any call is made: the
	// run as stored, the live run its key names (existed set; this run is
	// then not executed), or the error that kept it from being stored.
	Admitted func(run store.Run, existed bool, err error)
	// trigger, when set, is Run's trigger as decoding it gives
	// (NewAdmission).
	trigger *Trigger
	// noWaiter is the trigger's NoWaiter: the execution keeps no runLog.
	noWaiter bool
}

// EagerEligible reports whether a run of workflow started by trig may be
// executed at once by ExecuteNew, its creation written with its first
// attempt's start. It is conservative: a workflow with a concurrency limit,
// a step calling a provider instance with a rate or recipient limit (whose
// call may wait for its turn), or a cron catch-up is created first, as
// Create does. Runs whose first attempt cannot start at once for another
// reason (a when or if that skips, a wait, for_each, a send window) are
// created by ExecuteNew before it writes anything else.
func (e *Engine) EagerEligible(workflow string, trig Trigger) bool {
	st := e.state.Load()
	wf, ok := st.project.Workflows[workflow]
	if !ok || trig.Catchup || wf.Concurrency.Limit > 0 {
		return false
	}
	for _, step := range wf.Steps {
		for _, c := range candidates(step) {
			if p := st.project.Providers[c.provider]; p != nil && (p.RateLimit != nil || len(p.RecipientLimits) > 0) {
				return false
			}
		}
	}
	return true
}

// ExecuteNew executes a run that is not stored yet, as Execute does, and
// stores it with its first write: with a store.EagerStarter, the write that
// starts its first attempt creates it already running, so a one-step run
// costs two commits instead of three; any other first write (a skip, a
// wait, a run that ends without a call) is preceded by Create's write.
// a.Admitted learns the outcome of the creation; until then the run's
// events are held, since nothing else can see it. A crash after the
// creation leaves what a crash after the first attempt's start leaves for
// a run created first: a running run with an attempt in doubt.
func (e *Engine) ExecuteNew(ctx context.Context, a Admission) (store.Run, error) {
	c := &pendingCreate{Admission: a}
	final, err := e.executeLive(ctx, a.Run.ID, &a.Run, c)
	// The error is built only for a run that was not admitted yet.
	if !c.wasAnswered() && c.admit(store.Run{}, false, fmt.Errorf("run %s ended before it was stored: %w", a.Run.ID, cmp.Or(err, ErrNotCreated))) {
		// Every path writes before it ends; this one did not, and stored
		// nothing.
		e.opts.Logger.Error("run ended before it was stored", "run_id", a.Run.ID, "error", err)
		return final, ErrNotCreated
	}
	return final, err
}

// CreateAdmitted stores a's run queued, as Create stores the run it makes:
// for an admission that ExecuteNew was not given.
func (e *Engine) CreateAdmitted(ctx context.Context, a Admission) (store.Run, bool, error) {
	return e.opts.Store.CreateRun(ctx, a.Run, a.IdemKey, a.TTL)
}

// pendingCreate is the creation of a run ExecuteNew executes, deferred to
// its first write.
type pendingCreate struct {
	Admission
	mu       sync.Mutex
	answered bool
}

// admit tells Admitted the creation's outcome the first time it is called,
// and reports whether it was that call.
func (c *pendingCreate) admit(run store.Run, existed bool, err error) bool {
	c.mu.Lock()
	first := !c.answered
	c.answered = true
	c.mu.Unlock()
	if first && c.Admitted != nil {
		c.Admitted(run, existed, err)
	}
	return first
}

// wasAnswered reports whether admit was called.
func (c *pendingCreate) wasAnswered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// outcome admits the creation's outcome and returns the error that stops
// the execution when the run was not created: ErrNotCreated, wrapping the
// store's error. The events held for a run not created are dropped.
func (c *pendingCreate) outcome(e *Engine, held *heldEvents, run store.Run, existed bool, err error) error {
	c.admit(run, existed, err)
	switch {
	case err != nil:
		e.announce(held, false)
		return fmt.Errorf("%w: %w", ErrNotCreated, err)
	case existed:
		e.announce(held, false)
		return fmt.Errorf("%w: its idempotency key names run %s", ErrNotCreated, run.ID)
	}
	return nil
}

// heldEvents are the events of a run executed from what its creator handed
// (ExecuteRun, ExecuteNew), held until the run's first write: the take of a
// queued run, which finds it changed when it was canceled meanwhile, or
// the creation of a new one. They are published once that write is
// durable, so the run's events follow the commits that made them true, or
// dropped when it fails: a run that was not taken or not created here is
// not announced as started here.
type heldEvents struct {
	mu     sync.Mutex
	done   bool
	events []Event
	// dropped is set when the held events were dropped, not published:
	// the run was never announced.
	dropped bool
}

// wasDropped reports whether h's events were dropped (nil holds none).
func (h *heldEvents) wasDropped() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// hold keeps ev until the run's first write, and reports whether it did.
func (h *heldEvents) hold(ev Event) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return false
	}
	h.events = append(h.events, ev)
	return true
}

// announce ends the holding of h (nil holds nothing): the held events are
// published when publish is set, dropped otherwise. Only the first call
// does anything.
func (e *Engine) announce(h *heldEvents, publish bool) {
	if h == nil {
		return
	}
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return
	}
	h.done = true
	h.dropped = !publish
	events := h.events
	h.events = nil
	h.mu.Unlock()
	e.holding.Add(-1)
	if publish && e.opts.Observer != nil {
		for _, ev := range events {
			e.opts.Observer(ev)
		}
	}
}

// announced ends the holding of the execution's events once its first
// write is made: published when err is nil, dropped otherwise.
func (x *execution) announced(err error) error {
	x.e.announce(x.held, err == nil)
	return err
}

// createQueued stores c's run as Create does: queued, to be taken by the
// execution's next write.
func (e *Engine) createQueued(ctx context.Context, c *pendingCreate, held *heldEvents) error {
	run, existed, err := e.opts.Store.CreateRun(context.WithoutCancel(ctx), c.Run, c.IdemKey, c.TTL)
	return c.outcome(e, held, run, existed, err)
}

// createStarting stores the execution's run already taken (x.run) with the
// start of its first attempt, in one transaction when the store can.
func (x *execution) createStarting(ctx context.Context, c *pendingCreate, key store.StepKey, start store.AttemptStart) (taken bool, err error) {
	es, ok := x.e.opts.Store.(store.EagerStarter)
	if !ok {
		return false, x.e.createQueued(ctx, c, x.held)
	}
	run, existed, err := es.CreateStartAttemptRun(ctx, x.run, c.IdemKey, c.TTL, key, start)
	if err = c.outcome(x.e, x.held, run, existed, err); err != nil {
		return true, err
	}
	return true, x.announced(nil)
}
