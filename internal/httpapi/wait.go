package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// waitSlack is how much longer than its wait a waiting request may take to
// write its answer before the server's write timeout cuts it.
const waitSlack = 10 * time.Second

// recentRuns is how many run_finished events runWaiters remembers while a
// request holds: enough for the runs that end between a held request's
// subscription and its run's creation (see hold), which takes one commit.
// Each remembered run keeps its engine.FinishedRun, so the bound is also on
// the memory they hold.
const recentRuns = 128

// runWaiters lets requests wait for their runs to finish without polling the
// store: it holds one subscription to the Runtime's events, taken while at
// least one request waits or holds, and wakes the waiters of a run on its
// run_finished event, handing them the event's engine.FinishedRun (nil when
// the run ended elsewhere or must be read from the store). While a request
// holds it remembers the last recentRuns run_finished events, so a request
// that subscribed before its run was created (hold) learns whether the run
// ended before it waited without reading the store.
type runWaiters struct {
	subscribe func(func(engine.Event)) func()

	// subMu orders taking and dropping the subscription. It is never held
	// by observe, which runs under the event hub's lock, so taking it
	// before the hub's lock cannot deadlock.
	subMu sync.Mutex
	unsub func()

	mu    sync.Mutex
	byRun map[string][]chan *engine.FinishedRun
	// n counts waiters and holds: the subscription lives while n > 0.
	n int
	// holds counts the holds. While there are some, seen counts the
	// run_finished events observed and recent holds the last of them, the
	// event numbered i at recent[i%recentRuns].
	holds  int
	seen   uint64
	recent [recentRuns]finishedEvent
}

// finishedEvent is a run_finished event runWaiters remembers.
type finishedEvent struct {
	id  string
	run *engine.FinishedRun
}

// hold takes the subscription for a request about to create a run it will
// wait for, and returns the mark to pass to add with the run's id; release
// drops the hold once the request waits (or gave up).
func (w *runWaiters) hold() (mark uint64, release func()) {
	w.subMu.Lock()
	defer w.subMu.Unlock()
	w.take()
	w.mu.Lock()
	w.n++
	w.holds++
	mark = w.seen
	w.mu.Unlock()
	return mark, w.release
}

// release drops a hold; with the last, the remembered events go.
func (w *runWaiters) release() {
	w.mu.Lock()
	w.holds--
	if w.holds == 0 {
		w.recent = [recentRuns]finishedEvent{}
	}
	w.mu.Unlock()
	w.drop()
}

// take subscribes unless subscribed; w.subMu is held.
func (w *runWaiters) take() {
	if w.unsub == nil {
		w.unsub = w.subscribe(w.observe)
	}
}

// drop releases one waiter or hold, and the subscription with the last.
func (w *runWaiters) drop() {
	w.subMu.Lock()
	defer w.subMu.Unlock()
	w.mu.Lock()
	w.n--
	last := w.n == 0
	w.mu.Unlock()
	if last && w.unsub != nil {
		w.unsub()
		w.unsub = nil
	}
}

// add registers a waiter for run id and returns the channel that receives
// when the run finishes (the run as it ended here, or nil), and the
// function that removes the waiter. The subscription is live when add
// returns, so a run that finishes after add wakes the waiter. With a mark
// of a hold still held, known reports whether the run's end, if it came
// before add, is on the channel already; otherwise (known unset) a run
// that finished before add must be read from the store.
func (w *runWaiters) add(id string, mark uint64, held bool) (finished <-chan *engine.FinishedRun, known bool, remove func()) {
	ch := make(chan *engine.FinishedRun, 1)
	w.subMu.Lock()
	defer w.subMu.Unlock()
	w.take()
	w.mu.Lock()
	if w.byRun == nil {
		w.byRun = map[string][]chan *engine.FinishedRun{}
	}
	w.byRun[id] = append(w.byRun[id], ch)
	w.n++
	// The events since the mark are all remembered unless more than
	// recentRuns came.
	known = held && w.seen-mark <= recentRuns
	if known {
		for i := mark; i < w.seen; i++ {
			if ev := w.recent[i%recentRuns]; ev.id == id {
				ch <- ev.run
				break
			}
		}
	}
	w.mu.Unlock()
	return ch, known, func() { w.remove(id, ch) }
}

// remove drops the waiter ch of run id, and the subscription with the last
// waiter.
func (w *runWaiters) remove(id string, ch chan *engine.FinishedRun) {
	w.mu.Lock()
	chans := w.byRun[id]
	if i := slices.Index(chans, ch); i >= 0 {
		chans = slices.Delete(chans, i, i+1)
	}
	if len(chans) == 0 {
		delete(w.byRun, id)
	} else {
		w.byRun[id] = chans
	}
	w.mu.Unlock()
	w.drop()
}

// observe remembers a run that finished (or stopped needing attention) and
// wakes its waiters; it is the subscription's callback and must be quick.
func (w *runWaiters) observe(ev engine.Event) {
	if ev.Type != engine.RunFinished {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.holds > 0 {
		w.recent[w.seen%recentRuns] = finishedEvent{id: ev.RunID, run: ev.Run}
		w.seen++
	}
	for _, ch := range w.byRun[ev.RunID] {
		select {
		case ch <- ev.Run:
		default:
		}
	}
}

// settled reports whether a run's status answers a waiting request: a final
// status, or needs_attention, where the run stays until an operator acts.
func settled(status string) bool {
	s := store.Status(status)
	return s.Final() || s == store.StatusNeedsAttention
}

// waitHold is the subscription a request that will wait for its run takes
// before it creates the run (runWaiters.hold), so the run's end cannot
// pass unseen and the store need not be read to learn of it.
type waitHold struct {
	mark    uint64
	release func()
}

// holdWait takes the hold of a request that will wait for the run it
// creates; the caller defers its done.
func (a *api) holdWait() *waitHold {
	h := &waitHold{}
	h.mark, h.release = a.waiters.hold()
	return h
}

// done releases the hold, once; a nil hold is none.
func (h *waitHold) done() {
	if h != nil && h.release != nil {
		h.release()
		h.release = nil
	}
}

// awaitRun waits up to d for run id to settle and returns its run object
// then, masked, with done set. hold, when set, was taken before a run
// created by this request (not an idempotent replay of an older one). When
// d passes first it reads the run once more (a run another replica executed
// wakes no waiter here) and returns done unset if it is still not settled.
// It returns the request context's error when the client goes away.
func (a *api) awaitRun(w http.ResponseWriter, r *http.Request, id string, d time.Duration, hold *waitHold) (*engine.RunView, bool, error) {
	// The server's write timeout would cut the answer of a long wait.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + waitSlack))
	ctx := r.Context()
	var mark uint64
	if hold != nil {
		mark = hold.mark
	}
	finished, known, remove := a.waiters.add(id, mark, hold != nil && hold.release != nil)
	defer remove()
	hold.done()
	if !known {
		// Read after subscribing: a run that finished before is seen
		// here, one that finishes after wakes the waiter. The run row
		// alone tells; its whole object is read once, at the end.
		run, err := a.rt.Store().GetRun(ctx, id)
		if err != nil {
			return nil, false, err
		}
		if settled(string(run.Status)) {
			return a.view(ctx, id)
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case fr := <-finished:
		if fr != nil {
			// The run ended in this process: its object is built from
			// what the engine holds, not read back.
			return a.finishedView(ctx, fr)
		}
	case <-timer.C:
	case <-a.opts.Done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	return a.view(ctx, id)
}

// view reads run id's object, masked, and reports whether it is settled.
func (a *api) view(ctx context.Context, id string) (*engine.RunView, bool, error) {
	v, err := engine.View(ctx, a.rt.Store(), id)
	if err != nil {
		return nil, false, err
	}
	return a.maskView(v), settled(v.Status), nil
}

// finishedView returns the object of a run that ended in this process,
// masked, with done set as view does.
func (a *api) finishedView(ctx context.Context, fr *engine.FinishedRun) (*engine.RunView, bool, error) {
	v, err := fr.View(ctx)
	if err != nil {
		return nil, false, err
	}
	return a.maskView(v), settled(v.Status), nil
}

// waitParam reads the wait query parameter of a manual trigger: how long to
// wait for the run to finish, zero when absent.
func waitParam(r *http.Request) (time.Duration, error) {
	vs, ok := r.URL.Query()["wait"]
	switch {
	case !ok:
		return 0, nil
	case len(vs) > 1:
		return 0, fmt.Errorf("query parameter \"wait\" is given more than once")
	}
	d, err := time.ParseDuration(vs[0])
	switch {
	case err != nil:
		return 0, fmt.Errorf("wait %q is not a duration such as 10s or 1m", vs[0])
	case d <= 0:
		return 0, fmt.Errorf("wait %q must be positive", vs[0])
	case d > config.MaxRespondTimeout:
		return 0, fmt.Errorf("wait %q is longer than the longest wait, %s", vs[0], formatWait(config.MaxRespondTimeout))
	}
	return d, nil
}

// formatWait writes d as a short duration string: "1m", not "1m0s".
func formatWait(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// respondWithRun waits up to d for run id to settle and answers 200 with its
// run object, as GET /api/v1/runs/{id} does. hold is as for awaitRun. It
// returns false, having written nothing, when d passes first: the caller
// answers 202 with the run id as without a wait. A client that went away
// gets no answer.
func (a *api) respondWithRun(w http.ResponseWriter, r *http.Request, id string, d time.Duration, hold *waitHold) bool {
	v, done, err := a.awaitRun(w, r, id, d, hold)
	switch {
	case r.Context().Err() != nil:
		return true // the client is gone; nobody reads an answer
	case err != nil:
		// The run exists and is recorded; only reading it back failed.
		a.log.Warn("read the awaited run", "run_id", id, "error", a.mask(err.Error()))
		return false
	case !done:
		return false
	}
	a.writeRunView(w, http.StatusOK, v)
	return true
}
