package scheduler

import "time"

// Observer receives the scheduler's measurements, for metrics. Its methods
// are called from the scheduler's goroutines, concurrently, and must return
// quickly. The scheduler imports no metrics library; the host adapts an
// Observer to Prometheus.
type Observer interface {
	// Fired is called once per fire, when Fire is first called for it, with
	// the lag between d.ScheduledTime and that call. Catch-up fires
	// (d.Catchup) lag by the downtime they make up for; leave them out of a
	// latency histogram.
	Fired(d Due, lag time.Duration)
	// Missed is called when n fires of a trigger will not run, with why.
	Missed(workflow, triggerKey string, reason MissReason, n int)
}

// MissReason says why fires did not run.
type MissReason string

// The reasons fires are missed.
const (
	// MissCatchup: the trigger's catchup policy dropped fires missed while
	// no host ran (all of them for skip, all but the newest for latest).
	MissCatchup MissReason = "catchup"
	// MissCapped: catchup "all" dropped fires beyond Options.MaxCatchup.
	MissCapped MissReason = "catchup_cap"
	// MissFailed: Fire kept failing after every retry.
	MissFailed MissReason = "fire_failed"
	// MissOverloaded: the queue of fires waiting for a worker was full.
	MissOverloaded MissReason = "overloaded"
)

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) Fired(Due, time.Duration)               {}
func (nopObserver) Missed(string, string, MissReason, int) {}
