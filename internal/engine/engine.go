package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing/tracecontext"
	"github.com/heraldhq/herald/sdk"
)

// ErrInterrupted is returned by Execute when its context ends between two
// steps: the run stays running in the store and resumes from there.
var ErrInterrupted = errors.New("run interrupted; it resumes from its last completed step")

// ErrAlreadyExecuting is returned by Execute for a run this engine is
// executing already: a run handed over twice (say by a trigger and by the
// resume of unfinished runs at start) runs once.
var ErrAlreadyExecuting = errors.New("run is already executing")

// errNoChange aborts an UpdateRun whose run needs no change.
var errNoChange = errors.New("no change")

// ErrUnknownWorkflow is wrapped by the error for a workflow the project does
// not declare.
var ErrUnknownWorkflow = errors.New("unknown workflow")

// ClientFunc returns the client of a configured provider instance.
type ClientFunc func(ctx context.Context, instance string) (sdk.Client, error)

// Options configure an Engine.
type Options struct {
	// Project is the loaded project; SetProject replaces it.
	Project *config.Project
	// Store records runs; required.
	Store store.Store
	// Client reaches provider instances; required.
	Client ClientFunc
	// Logger receives one line per run and step transition; nil discards.
	Logger hclog.Logger
	// Observer receives every transition; optional.
	Observer Observer
	// Owner names this host process in run records.
	Owner string
	// DryRun makes every call render its requests instead of sending them.
	DryRun bool
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Sleep waits between retries; nil waits on a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// RateLimiter, when set, keeps the providers' rate budgets instead of
	// the in-process ones, so hosts sharing a store share each instance's
	// and each recipient's budget.
	RateLimiter RateLimiter
	// Tracer starts the spans of runs, attempts and plugin calls (package
	// tracing); nil traces nothing.
	Tracer trace.Tracer
	// OnPark, when set, is told of each wait a run was parked on, so the
	// host can set its timer (see package timers).
	OnPark func(store.Wait)
	// SignalURL, when set, returns the signed acknowledge link of a run's
	// signal, for run.signal_url.<name>.
	SignalURL func(runID, signal string) string
}

// Engine executes runs. It is safe for concurrent use: many runs may execute
// at once.
type Engine struct {
	opts  Options
	state atomic.Pointer[projectState]
	// pacer enforces the instances' rate limits across runs.
	pacer *pacer
	// executing holds the runs Execute is running now (*liveRun by id).
	executing sync.Map
	// holding counts the runs whose events are held until their first
	// write (see heldEvents).
	holding atomic.Int64
	// settle batches the wait resolutions of concurrent callers (wait.go).
	settle settler

	// beatMu guards the heartbeat loop, which runs while any run executes.
	beatMu   sync.Mutex
	beatRuns int
	beatStop chan struct{}
}

// projectState is everything derived from one project version.
type projectState struct {
	project *config.Project
	masker  *sdk.Masker
}

// New returns an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("engine: a store is required")
	}
	if opts.Client == nil {
		return nil, errors.New("engine: a client function is required")
	}
	if opts.Project == nil {
		return nil, errors.New("engine: a project is required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Owner == "" {
		opts.Owner = DefaultOwner()
	}
	e := &Engine{opts: opts}
	e.pacer = newPacer(opts.RateLimiter, func(instance string, rate float64) {
		e.emit(Event{Type: RateLimitChanged, Provider: instance, Item: -1, Rate: rate})
	})
	e.SetProject(opts.Project)
	return e, nil
}

// SetProject replaces the project runs are executed against. Runs in flight
// finish with the version they started with; resumed runs use the new one.
func (e *Engine) SetProject(p *config.Project) {
	e.state.Store(&projectState{
		project: p,
		masker:  sdk.NewMasker(p.MaskValues()...),
	})
}

// Project returns the current project.
func (e *Engine) Project() *config.Project { return e.state.Load().project }

// Masker returns the masker of the current project's secrets.
func (e *Engine) Masker() *sdk.Masker { return e.state.Load().masker }

// Create stores a queued run of workflow started by trig. With an idemKey the
// creation is de-duplicated: a repeat within ttl returns the first run and
// existed is set, unless both requests carry a RequestFingerprint and they
// differ (store.ErrIdempotencyKeyReused).
func (e *Engine) Create(ctx context.Context, workflow string, trig Trigger, idemKey string, ttl time.Duration) (run store.Run, existed bool, err error) {
	if run, err = e.NewRun(ctx, workflow, trig); err != nil {
		return store.Run{}, false, err
	}
	return e.opts.Store.CreateRun(ctx, run, idemKey, ttl)
}

// NewRun returns the queued run of workflow started by trig that Create
// stores, without storing it: ExecuteNew stores it with its first attempt.
func (e *Engine) NewRun(ctx context.Context, workflow string, trig Trigger) (store.Run, error) {
	run, _, err := e.newRun(ctx, workflow, trig)
	return run, err
}

// NewAdmission returns the Admission of the queued run of workflow started
// by trig (NewRun's run) for ExecuteNew. It carries the trigger as the
// execution reads it, when that is what decoding the stored trigger gives
// (see Trigger.asDecoded), so the execution need not decode it again; the
// values trig holds must not change afterwards. The caller sets IdemKey, TTL
// and Admitted.
func (e *Engine) NewAdmission(ctx context.Context, workflow string, trig Trigger) (Admission, error) {
	run, masked, err := e.newRun(ctx, workflow, trig)
	if err != nil {
		return Admission{}, err
	}
	a := Admission{Run: run, noWaiter: trig.NoWaiter}
	if decoded, ok := masked.asDecoded(); ok {
		a.trigger = &decoded
	}
	return a, nil
}

// newRun is NewRun, also returning the trigger as it was stored: masked.
func (e *Engine) newRun(ctx context.Context, workflow string, trig Trigger) (store.Run, Trigger, error) {
	st := e.state.Load()
	if _, ok := st.project.Workflows[workflow]; !ok {
		return store.Run{}, Trigger{}, fmt.Errorf("%w %q", ErrUnknownWorkflow, workflow)
	}
	if trig.Time.IsZero() {
		trig.Time = e.opts.Now().UTC()
	}
	if trig.TraceContext == nil {
		trig.TraceContext = tracecontext.Carrier(ctx)
	}
	// What the trigger carries is stored and shown: a secret's value in a
	// webhook or input is masked before it is, and expressions read the
	// stored, masked trigger.
	trig.Body = st.masker.Value(trig.Body)
	trig.Event = st.masker.Value(trig.Event)
	trig.Headers = maskStrings(st.masker, trig.Headers)
	trig.Query = maskStrings(st.masker, trig.Query)
	raw, err := encodeTrigger(trig)
	if err != nil {
		return store.Run{}, Trigger{}, fmt.Errorf("encode trigger: %w", err)
	}
	return store.Run{
		ID:        store.NewRunID(),
		Workflow:  workflow,
		Status:    store.StatusQueued,
		Trigger:   raw,
		CreatedAt: e.opts.Now().UTC(),
		// Set here, the store need not parse the trigger for it.
		TriggerKind: trig.Kind,

		RequestFingerprint: trig.RequestFingerprint,
	}, trig, nil
}

// maskStrings returns m with its keys and values masked: m itself when
// none holds a secret, a copy otherwise.
func maskStrings(masker *sdk.Masker, m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	clean := true
	for k, v := range m {
		if masker.String(k) != k || masker.String(v) != v {
			clean = false
			break
		}
	}
	if clean {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[masker.String(k)] = masker.String(v)
	}
	return out
}

// Run creates a run of workflow and executes it to the end.
func (e *Engine) Run(ctx context.Context, workflow string, trig Trigger) (store.Run, error) {
	run, _, err := e.Create(ctx, workflow, trig, "", 0)
	if err != nil {
		return store.Run{}, err
	}
	return e.ExecuteRun(ctx, run)
}

// Execute runs, or resumes, the run with the given id until it ends. A run
// that already ended, or that waits or needs attention, is returned as it
// is. When ctx ends between steps the run is left running (released by this
// owner) and ErrInterrupted is returned; a step in flight is allowed to
// finish its attempt first, so its result is recorded. A run canceled while
// it executes (Cancel) stops at the next safe point, its attempt in flight
// cancelled, and ends canceled.
//
// A run found running under an owner that never released it was left by a
// process that stopped mid-run: that resume is logged as an operation, and
// a run resumed MaxResumes times that way fails instead (a poison run that
// may be what crashes its hosts).
func (e *Engine) Execute(ctx context.Context, id string) (final store.Run, err error) {
	return e.executeLive(ctx, id, nil, nil)
}

// ExecuteRun is Execute of run, as its creator was handed it: a queued run
// is taken without reading it again (a run changed since is read then).
func (e *Engine) ExecuteRun(ctx context.Context, run store.Run) (store.Run, error) {
	return e.executeLive(ctx, run.ID, &run, nil)
}

// executeLive is Execute of the run id, handed when the caller has it, and
// not stored yet when create is set (ExecuteNew).
func (e *Engine) executeLive(ctx context.Context, id string, handed *store.Run, create *pendingCreate) (final store.Run, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	live := &liveRun{cancel: cancel, done: make(chan struct{})}
	if handed != nil {
		live.heldBuf.events = live.eventBuf[:0]
		live.held = &live.heldBuf
		e.holding.Add(1)
	}
	if _, busy := e.executing.LoadOrStore(id, live); busy {
		if live.held != nil {
			e.holding.Add(-1)
		}
		return store.Run{ID: id}, ErrAlreadyExecuting
	}
	defer func() {
		// Every path announces or drops the held events with the run's
		// first write; should one not, they are not lost.
		e.announce(live.held, true)
		e.executing.Delete(id)
		close(live.done)
	}()
	e.beating(1)
	defer e.beating(-1)
	final, err = e.execute(ctx, id, true, handed, create)
	if errors.Is(err, errClaimLost) {
		// Another writer changed the run before this execution wrote
		// anything: start over, taking the run with its own write first.
		final, err = e.execute(ctx, id, false, nil, nil)
	}
	return final, err
}

// errClaimLost aborts an execution that deferred taking its run (see
// execute) when the run changed in the store before the deferred write.
var errClaimLost = errors.New("the run changed before this execution took it")

// execute is one try of Execute. A fresh run (queued, never started) is
// taken lazily when lazy is set: the write that marks it running, with its
// attempt count, owner and heartbeat, is deferred and made in the same
// transaction as the first attempt's start (or the run's end, for a run
// that makes no call), so a one-step run costs three commits (see
// store.RunCommitter). Until then the run stays queued in the store, which
// a crash leaves as it found it; a deferred write that finds the run
// changed fails with errClaimLost and nothing of this try is stored.
//
// A lazy try starts from handed when it is set instead of reading the run;
// with create set the run is not stored yet, and the deferred write creates
// it (see ExecuteNew).
func (e *Engine) execute(ctx context.Context, id string, lazy bool, handed *store.Run, create *pendingCreate) (final store.Run, err error) {
	st := e.state.Load()
	now := e.opts.Now().UTC()
	var (
		found takeFound
		run   store.Run
		take  func(*store.Run) error
	)
	if lazy {
		if handed != nil {
			run = *handed
		} else if run, err = e.opts.Store.GetRun(ctx, id); err != nil {
			return store.Run{}, err
		}
		_, known := st.project.Workflows[run.Workflow]
		if run.Status == store.StatusQueued && run.Attempt == 0 && run.CancelRequested == "" && known {
			take = func(r *store.Run) error {
				if r.Status != store.StatusQueued || r.Attempt != 0 || r.CancelRequested != "" {
					return errClaimLost
				}
				e.takeRun(r, now)
				return nil
			}
			e.takeRun(&run, now)
		}
	}
	var held *heldEvents
	if v, ok := e.executing.Load(id); ok {
		held = v.(*liveRun).held
	}
	var decoded *Trigger
	if create != nil {
		// A run's trigger never changes: what its creator decoded holds
		// however the run is taken.
		decoded = create.trigger
	}
	if create != nil && take == nil {
		// Not a run this try may take lazily (its workflow went away):
		// stored as Create stores it, it is taken by the write below.
		if err := e.createQueued(ctx, create, held); err != nil {
			return store.Run{}, err
		}
		create = nil
	}
	if take == nil {
		// The run is read and written now: nothing was announced from
		// what its creator handed.
		e.announce(held, true)
		run, found, err = e.takeNow(ctx, st, id, now)
	}
	gone, canceled, prevOwner, prevBeat := found.gone, found.canceled, found.prevOwner, found.prevBeat
	if errors.Is(err, errNoChange) {
		run, err = e.opts.Store.GetRun(ctx, id)
		if err != nil {
			return store.Run{}, err
		}
		switch {
		case canceled && !run.Status.Final():
			return e.finishCanceled(ctx, st, run, run.CancelRequested)
		case gone && !run.Status.Final():
			msg := fmt.Sprintf("workflow %q is no longer in the project", run.Workflow)
			return e.finish(ctx, st, run, store.StatusFailed, msg, msg)
		}
		if !lazy && !held.wasDropped() {
			// The retry after errClaimLost: the run was announced, and
			// another writer ended or parked it before this one took it.
			// (A handed run whose held events were dropped never was.)
			e.emit(Event{Type: RunReleased, RunID: run.ID, Workflow: run.Workflow, Item: store.NoItem, Status: string(run.Status)})
		}
		return run, nil
	}
	if err != nil {
		return store.Run{}, err
	}
	if prevOwner != "" {
		poisoned, err := e.countResume(ctx, run, prevOwner, prevBeat)
		if err != nil {
			return run, err
		}
		if poisoned != "" {
			return e.finish(ctx, st, run, store.StatusFailed, poisoned, poisoned)
		}
	}
	ctx, span := e.startRun(ctx, run)
	defer func() { endRun(span, final, err) }()
	wf := st.project.Workflows[run.Workflow]
	x := &execution{e: e, st: st, run: run, wf: wf, take: take, create: create, held: held, written: newRunLog(run, create), trigger: decoded}
	if lazy {
		// A retry after errClaimLost (lazy unset) announced the run already.
		e.emit(Event{Type: RunStarted, RunID: run.ID, Workflow: run.Workflow, Item: store.NoItem, Attempt: run.Attempt})
		if e.opts.Logger.IsInfo() {
			x.log().Info("run started", "attempt", run.Attempt)
		}
	}
	status, msg, reason, err := x.execute(ctx)
	if errors.Is(err, errClaimLost) || errors.Is(err, ErrNotCreated) {
		return run, err
	}
	if by, ok := canceledBy(ctx); ok {
		if err := x.flush(ctx); err != nil {
			return run, err
		}
		return e.finishCanceled(ctx, st, run, by)
	}
	if errors.Is(err, errParked) {
		return e.opts.Store.GetRun(context.WithoutCancel(ctx), run.ID)
	}
	if err != nil {
		if errors.Is(err, ErrInterrupted) || ctx.Err() != nil {
			x.log().Warn("run interrupted; it resumes from its last completed step")
			// A run taken lazily is shown running, as one taken at once,
			// before it is released.
			if ferr := x.flush(ctx); ferr != nil {
				x.log().Warn("could not take the interrupted run", "error", ferr)
			}
			e.release(ctx, run.ID)
			if !errors.Is(err, ErrInterrupted) {
				err = fmt.Errorf("%w: %w", ErrInterrupted, err)
			}
		}
		return run, err
	}
	if status == store.StatusNeedsAttention {
		if err := x.flush(ctx); err != nil {
			return run, err
		}
		return e.parkNeedsAttention(ctx, st, run, reason)
	}
	if status == store.StatusFailed && run.Attempt > 1 {
		// A retried run may hold records reopened for steps it did not
		// reach this time; they must not look as if they still ran.
		if err := e.closeUnreached(ctx, run.ID, "not reached: "+reason); err != nil {
			return run, err
		}
	}
	return x.finish(ctx, status, msg, reason)
}

// takeFound is what takeNow found of a run it did not take, or of the
// owner it took the run from.
type takeFound struct {
	// gone and canceled are set when the run's workflow left the project,
	// or an operator asked to cancel it.
	gone, canceled bool
	// prevOwner and prevBeat name the owner of a running run this engine
	// took over, and its last heartbeat.
	prevOwner string
	prevBeat  time.Time
}

// takeNow marks the run id running from now in one read-modify-write, or
// finds it ended, parked, canceled or its workflow gone (errNoChange).
func (e *Engine) takeNow(ctx context.Context, st *projectState, id string, now time.Time) (store.Run, takeFound, error) {
	var found takeFound
	run, err := e.opts.Store.UpdateRun(ctx, id, func(r *store.Run) error {
		found = takeFound{}
		if r.Status.Final() || r.Status == store.StatusWaiting || r.Status == store.StatusNeedsAttention {
			return errNoChange
		}
		if r.CancelRequested != "" {
			found.canceled = true
			return errNoChange
		}
		if _, ok := st.project.Workflows[r.Workflow]; !ok {
			found.gone = true
			return errNoChange
		}
		if r.Status == store.StatusRunning && r.Owner != "" && r.Owner != e.opts.Owner {
			found.prevOwner, found.prevBeat = r.Owner, r.HeartbeatAt
		}
		e.takeRun(r, now)
		return nil
	})
	return run, found, err
}

// takeRun marks r running under this engine from now: the write that takes
// a run to execute it.
func (e *Engine) takeRun(r *store.Run, now time.Time) {
	r.Status = store.StatusRunning
	r.Attempt++
	r.Owner = e.opts.Owner
	r.HeartbeatAt = now
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
}

// closeUnreached marks the step records of a run that ended while they were
// still running (reopened by a retry and never reached) skipped with reason.
func (e *Engine) closeUnreached(ctx context.Context, id, reason string) error {
	recs, err := e.opts.Store.StepRecords(ctx, id)
	if err != nil {
		return err
	}
	now := e.opts.Now().UTC()
	for _, r := range recs {
		if r.Status != store.StatusRunning {
			continue
		}
		r.Status, r.Reason, r.FinishedAt = store.StatusSkipped, reason, now
		if r.StartedAt.IsZero() {
			r.StartedAt = now
		}
		if err := e.opts.Store.RecordStep(context.WithoutCancel(ctx), r); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// liveRun is a run this engine executes now.
type liveRun struct {
	// cancel stops the run with a *CanceledError cause.
	cancel context.CancelCauseFunc
	// done is closed when Execute returns.
	done chan struct{}
	// held, when set, holds the run's events until its first write (see
	// heldEvents); it is heldBuf, whose first events go to eventBuf, so a
	// run handed to its execution allocates nothing more for them.
	held     *heldEvents
	heldBuf  heldEvents
	eventBuf [2]Event
}

// CanceledError is the cause of a run's context when an operator canceled
// the run.
type CanceledError struct {
	// By names who asked.
	By string
}

func (e *CanceledError) Error() string { return "canceled by " + e.By }

// canceledBy reports whether ctx ended because the run was canceled, and by
// whom.
func canceledBy(ctx context.Context) (string, bool) {
	if ctx.Err() == nil {
		// Not ended, so not canceled: the usual case costs no allocation.
		return "", false
	}
	var ce *CanceledError
	if errors.As(context.Cause(ctx), &ce) {
		return ce.By, true
	}
	return "", false
}

// release marks a run this owner stopped executing cleanly (ctx ended
// between steps) as held by nobody, so its next execution is a resume, not a
// recovery from a crash.
func (e *Engine) release(ctx context.Context, id string) {
	_, err := e.opts.Store.UpdateRun(context.WithoutCancel(ctx), id, func(r *store.Run) error {
		if r.Owner != e.opts.Owner || r.Status != store.StatusRunning {
			return errNoChange
		}
		r.Owner = ""
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		e.opts.Logger.Warn("could not release the run", "run_id", id, "error", err)
	}
}

// countResume logs the resume of a run whose owner stopped without
// releasing it and returns the failure reason when the run was resumed that
// way MaxResumes times since it was created or last retried.
func (e *Engine) countResume(ctx context.Context, run store.Run, prevOwner string, prevBeat time.Time) (string, error) {
	ops, err := e.opts.Store.Operations(ctx, run.ID)
	if err != nil {
		return "", err
	}
	n := 0
	for _, op := range ops {
		switch op.Action {
		case OpResume:
			n++
		case OpRetry:
			n = 0
		}
	}
	if n >= store.MaxResumes {
		return fmt.Sprintf("resumed %d times without finishing; the run may crash its host", n), nil
	}
	detail := "its owner " + prevOwner + " stopped without finishing it"
	if !prevBeat.IsZero() {
		detail += " (last heartbeat " + prevBeat.UTC().Format(time.RFC3339) + ")"
	}
	op := store.Operation{RunID: run.ID, At: e.opts.Now().UTC(), By: e.opts.Owner, Action: OpResume, Detail: detail}
	return "", e.opts.Store.AddOperation(ctx, op)
}

// finish ends run in status with msg as its error text and reason as its
// one-line reason.
func (e *Engine) finish(ctx context.Context, st *projectState, run store.Run, status store.Status, msg, reason string) (store.Run, error) {
	return e.finishWith(ctx, st, run, status, msg, reason, nil, func(ctx context.Context, update func(*store.Run) error) (store.Run, error) {
		return e.opts.Store.UpdateRun(ctx, run.ID, update)
	})
}

// finishWith is finish with write storing the run's final update, with
// whatever must commit with it, and emitting the events of those writes;
// written, when set, is what the execution wrote (its RunFinished event
// carries the run object then).
func (e *Engine) finishWith(ctx context.Context, st *projectState, run store.Run, status store.Status, msg, reason string, written *runLog,
	write func(context.Context, func(*store.Run) error) (store.Run, error)) (store.Run, error) {
	now := e.opts.Now().UTC()
	msg = st.masker.String(msg)
	reason = st.masker.String(reason)
	// Record the end even when ctx has just ended: the run is complete.
	run, err := write(context.WithoutCancel(ctx), func(r *store.Run) error {
		r.Status = status
		r.Error = msg
		r.Reason = reason
		r.FinishedAt = now
		if r.StartedAt.IsZero() {
			r.StartedAt = now
		}
		return nil
	})
	if err != nil {
		return run, err
	}
	ev := Event{Type: RunFinished, RunID: run.ID, Workflow: run.Workflow, Item: store.NoItem, Status: string(status), Error: msg, Duration: run.FinishedAt.Sub(run.StartedAt),
		Run: written.finishedRun(run, e.opts.Store)}
	e.emit(ev)
	if e.opts.Logger.IsInfo() {
		e.opts.Logger.Info("run finished", append([]any{"run_id", run.ID, "workflow", run.Workflow, "status", status, "duration", ms(ev.Duration)}, errArg(msg)...)...)
	}
	return run, nil
}

func (e *Engine) emit(ev Event) {
	if e.opts.Observer == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = e.opts.Now()
	}
	if e.holding.Load() > 0 && ev.RunID != "" {
		if v, ok := e.executing.Load(ev.RunID); ok {
			if h := v.(*liveRun).held; h != nil && h.hold(ev) {
				return
			}
		}
	}
	e.opts.Observer(ev)
}

// execution is the state of one Execute call.
type execution struct {
	e   *Engine
	st  *projectState
	run store.Run
	wf  *config.Workflow
	// logger is the run's logger, made by log when a line is written.
	logger     hclog.Logger
	loggerOnce sync.Once
	scope      *expr.Scope
	// records are the step records found when the execution started.
	records map[store.StepKey]store.StepRecord
	// inDoubt are the unsettled in-doubt attempts found on a resume, by
	// step (item); guarded by mu.
	inDoubt map[store.StepKey]inDoubtAttempt
	// results are the finished steps' results by id but the last step's,
	// which nothing reads (nil until a step before it finishes), and
	// deliveries is set once the run may have messages with receipts (see
	// refreshDeliveries).
	results    map[string]stepResult
	deliveries bool
	// take, when set, is the deferred write that takes the run (see
	// Engine.execute), made with the first write of the execution; final,
	// when set, is the last step's success, written with the run's end
	// (see execution.finish); create, when set, is the run's creation,
	// deferred the same way (see ExecuteNew). All are guarded by mu.
	take   func(*store.Run) error
	final  *finalStep
	create *pendingCreate
	mu     sync.Mutex
	// held holds the run's events until the deferred take or creation is
	// written (see heldEvents); nil when none is.
	held *heldEvents
	// written is what the execution wrote, for the run object at its end.
	written *runLog
	// trigger, when set, is the run's trigger as decoding it gives (see
	// NewAdmission); nil decodes the run's.
	trigger *Trigger
}

// log returns the run's logger, which names the run in every line. It is
// made on first use: most runs write no line at the default levels.
func (x *execution) log() hclog.Logger {
	x.loggerOnce.Do(func() { x.logger = x.e.opts.Logger.With("run_id", x.run.ID, "workflow", x.run.Workflow) })
	return x.logger
}

// execute runs the workflow's steps and returns the run's end: its status,
// error text and one-line reason.
func (x *execution) execute(ctx context.Context) (store.Status, string, string, error) {
	var (
		trig Trigger
		err  error
	)
	if x.trigger != nil {
		trig = *x.trigger
	} else if trig, err = DecodeTrigger(x.run.Trigger); err != nil {
		return store.StatusFailed, err.Error(), err.Error(), nil
	}
	// A run's first execution has no step records yet: skip the read.
	var recs []store.StepRecord
	if x.run.Attempt > 1 {
		if recs, err = x.e.opts.Store.StepRecords(ctx, x.run.ID); err != nil {
			return "", "", "", err
		}
	}
	// Only read after this: nil (no records) reads as empty.
	if len(recs) > 0 {
		x.records = make(map[store.StepKey]store.StepRecord, len(recs))
	}
	for _, r := range recs {
		x.records[r.StepKey] = r
	}
	if err := x.closeInterrupted(ctx); err != nil {
		return "", "", "", err
	}
	x.scope = expr.NewScope(expr.RunData{ID: x.run.ID, Workflow: x.run.Workflow, Attempt: x.run.Attempt,
		SignalURLs: x.e.signalURLs(x.run.ID, x.wf)}, trig.data(), x.st.project.Secrets)
	x.scope.SetNow(x.e.opts.Now())
	if x.wf.Vars != nil {
		vars, err := x.wf.Vars.RenderMapContext(ctx, x.scope)
		if err != nil {
			if ctx.Err() != nil {
				return "", "", "", ErrInterrupted
			}
			return store.StatusFailed, "vars: " + err.Error(), "vars: " + err.Error(), nil
		}
		x.scope.SetVars(vars)
	}
	// when gates a run once, before its first step; a resumed run that has
	// records passed it already.
	if x.wf.When != nil && len(recs) == 0 {
		ok, err := x.wf.When.EvalContext(ctx, x.scope)
		if err != nil {
			if ctx.Err() != nil {
				return "", "", "", ErrInterrupted
			}
			return store.StatusFailed, "when: " + err.Error(), "when: " + err.Error(), nil
		}
		if !ok {
			return store.StatusSkipped, "", "skipped by when: " + x.wf.When.Source(), nil
		}
	}
	// A resumed run may have sent messages whose receipts arrived since.
	x.deliveries = x.run.Attempt > 1
	for _, step := range x.wf.Steps {
		if err := ctx.Err(); err != nil {
			return "", "", "", ErrInterrupted
		}
		if err := x.refreshDeliveries(ctx); err != nil {
			return "", "", "", err
		}
		res, err := x.step(ctx, step)
		if err != nil {
			return "", "", "", err
		}
		res.forEach = step.ForEach != nil
		if res.Status == store.StatusNeedsAttention {
			return store.StatusNeedsAttention, res.Reason, res.Reason, nil
		}
		if x.readLater(step) {
			// After the last step no expression reads steps, and no
			// refreshDeliveries reads results.
			if x.results == nil {
				x.results = make(map[string]stepResult, len(x.wf.Steps))
			}
			x.results[step.ID] = res
			x.scope.SetStep(step.ID, res.data())
		}
		if res.Status == store.StatusFailed && !step.ContinueOnError {
			msg := fmt.Sprintf("step %s failed: %s", step.ID, res.message())
			return store.StatusFailed, msg, msg, nil
		}
	}
	return store.StatusSucceeded, "", "", nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeInterrupted finishes the attempts an earlier execution started but
// never recorded a result for (its host stopped mid-call), so the attempt log
// says what happened: the outcome is unknown. Those, and in-doubt attempts
// whose settlement was cut short, go through the step's on_in_doubt rule
// before the step sends again (findInDoubt).
func (x *execution) closeInterrupted(ctx context.Context) error {
	if x.run.Attempt <= 1 {
		return nil
	}
	attempts, err := x.e.opts.Store.Attempts(ctx, x.run.ID)
	if err != nil {
		return err
	}
	interrupted := map[store.StepKey]int{}
	for _, a := range attempts {
		if a.Status != store.StatusRunning {
			continue
		}
		interrupted[a.StepKey] = a.Number
		res := store.AttemptResult{
			Status:     store.StatusFailed,
			Outcome:    store.OutcomeInDoubt,
			WillRetry:  true,
			Error:      &store.StepError{Class: ClassInterrupted, Message: interruptedMessage},
			FinishedAt: x.e.opts.Now().UTC(),
		}
		if err := x.e.opts.Store.FinishAttempt(ctx, a.StepKey, a.Number, res); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("close interrupted attempt: %w", err)
		}
		x.log().Warn("attempt was interrupted; its send is in doubt", "step", a.StepID, "item", a.Item, "attempt", a.Number)
	}
	return x.findInDoubt(ctx, attempts, interrupted)
}

// Skip ends a queued run as skipped without running it, with reason as its
// error text (such as a concurrency limit that was reached).
func (e *Engine) Skip(ctx context.Context, id, reason string) (store.Run, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	if run.Status.Final() {
		return run, nil
	}
	return e.finish(ctx, e.state.Load(), run, store.StatusSkipped, reason, reason)
}
