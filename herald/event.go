package herald

import (
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/engine"
)

// EventType names a transition of a run or a step.
type EventType string

// The transitions Subscribe reports.
const (
	// RunStarted: a run started executing, or resumed.
	RunStarted EventType = "run_started"
	// RunFinished: a run ended; Status says how.
	RunFinished EventType = "run_finished"
	// RunReleased: a run announced by RunStarted stopped executing in this
	// process without ending here (another process ended or parked it
	// first); Status is the status it left the run in.
	RunReleased EventType = "run_released"
	// StepStarted: a step started; Items counts a for_each step's elements.
	StepStarted EventType = "step_started"
	// AttemptFailed: an attempt of a step failed; RetryIn says when the
	// next one starts (zero when none will).
	AttemptFailed EventType = "attempt_failed"
	// StepFinished: a step ended; Status says how.
	StepFinished EventType = "step_finished"
	// ItemFinished: one element of a for_each step ended.
	ItemFinished EventType = "item_finished"
	// RateLimitWait: a call waits for its provider instance's rate_limit.
	RateLimitWait EventType = "rate_limit_wait"
	// RateLimitChanged: an instance's effective rate (Rate) moved after
	// rate_limited answers, or climbed back. It belongs to no run.
	RateLimitChanged EventType = "rate_limit_changed"
	// DeliveryRecorded: a delivery receipt raised the status of a step's
	// (or an item's) sent message; Status is sent, delivered, read or
	// failed.
	DeliveryRecorded EventType = "delivery_recorded"
)

// Event is one transition of a run executing in this process. Its messages
// have secrets masked.
type Event struct {
	Type     EventType
	Time     time.Time
	RunID    string
	Workflow string
	// StepID is empty for run events.
	StepID string
	// Item is the element of a for_each step, or -1.
	Item int
	// Items is the element count of a for_each step, on StepStarted.
	Items int
	// Attempt is the attempt number on AttemptFailed (the run's attempt on
	// RunStarted); Attempts is the step's attempt count on StepFinished.
	Attempt  int
	Attempts int
	// Provider and Action name the provider instance and action called.
	Provider string
	Action   string
	// Status is the run's or step's status on RunFinished, StepFinished and
	// ItemFinished.
	Status Status
	// ErrorClass (retryable, permanent or rate_limited) and Error describe
	// a failure.
	ErrorClass string
	Error      string
	// Duration is the step's or run's on *Finished events, the attempt's on
	// AttemptFailed and the wait on RateLimitWait.
	Duration time.Duration
	// RetryIn is the wait before the next attempt on AttemptFailed.
	RetryIn time.Duration
	// Rate is the instance's calls per second on RateLimitChanged.
	Rate float64
}

func newEvent(ev engine.Event) Event {
	return Event{
		Type:       EventType(ev.Type),
		Time:       ev.Time,
		RunID:      ev.RunID,
		Workflow:   ev.Workflow,
		StepID:     ev.StepID,
		Item:       ev.Item,
		Items:      ev.Items,
		Attempt:    ev.Attempt,
		Attempts:   ev.Attempts,
		Provider:   ev.Provider,
		Action:     ev.Action,
		Status:     Status(ev.Status),
		ErrorClass: ev.Class,
		Error:      ev.Error,
		Duration:   ev.Duration,
		RetryIn:    ev.RetryIn,
		Rate:       ev.Rate,
	}
}

// Subscribe calls fn with every event of every run this Herald executes,
// until unsubscribe is called. fn is called on the goroutine executing the
// step, before the run moves on, so it sees a run's events in order; it
// must be quick and safe for concurrent use (runs execute in parallel).
func (h *Herald) Subscribe(fn func(Event)) (unsubscribe func()) {
	return h.events.subscribe(fn)
}

// events fans engine events out to subscribers and tracks which runs are
// executing in this process, so Wait returns only once a run's events have
// all been delivered.
type events struct {
	mu      sync.Mutex
	subs    []*subscriber
	running map[string]bool
	waiters map[string][]chan struct{}
}

type subscriber struct{ fn func(Event) }

func newEvents() *events {
	return &events{running: map[string]bool{}, waiters: map[string][]chan struct{}{}}
}

func (e *events) subscribe(fn func(Event)) func() {
	s := &subscriber{fn: fn}
	e.mu.Lock()
	e.subs = append(e.subs, s)
	e.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			e.subs = slices.DeleteFunc(slices.Clone(e.subs), func(x *subscriber) bool { return x == s })
			e.mu.Unlock()
		})
	}
}

// observe is the engine's Observer.
func (e *events) observe(ev engine.Event) {
	if ev.Type == engine.RunStarted {
		e.mu.Lock()
		e.running[ev.RunID] = true
		e.mu.Unlock()
	}
	e.mu.Lock()
	subs := e.subs
	e.mu.Unlock()
	pub := newEvent(ev)
	for _, s := range subs {
		s.fn(pub)
	}
	if ev.Type == engine.RunFinished || ev.Type == engine.RunReleased {
		e.stopped(ev.RunID)
	}
}

// stopped records that the run is no longer executing here and wakes its
// waiters.
func (e *events) stopped(runID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.running, runID)
	for _, ch := range e.waiters[runID] {
		close(ch)
	}
	delete(e.waiters, runID)
}

// stoppedAll is stopped for every run, once nothing executes runs here.
func (e *events) stoppedAll() {
	e.mu.Lock()
	ids := make([]string, 0, len(e.running)+len(e.waiters))
	for id := range e.running {
		ids = append(ids, id)
	}
	for id := range e.waiters {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.stopped(id)
	}
}

// executing reports whether the run is executing in this process.
func (e *events) executing(runID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running[runID]
}

// watch returns a channel closed when the run next stops executing here,
// and a release func to call when done waiting.
func (e *events) watch(runID string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters[runID] = append(e.waiters[runID], ch)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.waiters[runID] = slices.DeleteFunc(e.waiters[runID], func(c chan struct{}) bool { return c == ch })
		if len(e.waiters[runID]) == 0 {
			delete(e.waiters, runID)
		}
	}
}
