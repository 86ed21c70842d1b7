package engine

import "time"

// EventType names a run or step transition.
type EventType string

// The transitions the engine reports to its Observer.
const (
	RunStarted  EventType = "run_started"
	RunFinished EventType = "run_finished"
	// RunReleased reports a run announced by RunStarted that stops
	// executing in this process without ending here: another writer ended
	// or parked it before this process took it. Status is the run's status
	// as that writer left it.
	RunReleased   EventType = "run_released"
	StepStarted   EventType = "step_started"
	AttemptFailed EventType = "attempt_failed"
	StepFinished  EventType = "step_finished"
	// ItemFinished reports one element of a for_each step.
	ItemFinished  EventType = "item_finished"
	RateLimitWait EventType = "rate_limit_wait"
	// RateLimitChanged reports an instance's effective rate (Rate) when
	// a rate_limited answer lowers it or it climbs back.
	RateLimitChanged EventType = "rate_limit_changed"
)

// Event is one transition of a run. Messages are already masked.
type Event struct {
	Type     EventType
	Time     time.Time
	RunID    string
	Workflow string
	// StepID is empty for run events.
	StepID string
	// Item is the for_each element, or -1.
	Item int
	// Items is the element count of a for_each step, on StepStarted.
	Items int
	// Attempt is the attempt number on AttemptFailed; Attempts the step's
	// attempt count on StepFinished.
	Attempt  int
	Attempts int
	Provider string
	Action   string
	// Status is the run's or step's status on *Finished events.
	Status string
	// Class and Error describe a failure.
	Class string
	Error string
	// Duration is the step's or run's duration on *Finished events, an
	// attempt's on AttemptFailed, and the wait on RateLimitWait.
	Duration time.Duration
	// RetryIn is the wait before the next attempt on AttemptFailed.
	RetryIn time.Duration
	// Rate is the instance's effective calls per second on
	// RateLimitChanged.
	Rate float64
	// Run, on RunFinished, is the run that ended in this process with
	// what its execution wrote, to build its run object without reading
	// the store; nil when that must be read (see runLog).
	Run *FinishedRun `json:"-"`
}

// Observer receives every Event. It is called synchronously from the
// goroutine running the step, so it must be quick and safe for concurrent
// use.
type Observer func(Event)
