package metrics

import (
	"time"

	"github.com/heraldhq/herald/internal/scheduler"
)

// Scheduler returns a scheduler.Observer that records fire lag (catch-up
// fires left out: they lag by the downtime they make up for) and missed
// fires.
func (m *Metrics) Scheduler() scheduler.Observer { return schedulerObserver{m} }

type schedulerObserver struct{ m *Metrics }

func (o schedulerObserver) Fired(d scheduler.Due, lag time.Duration) {
	if !d.Catchup {
		o.m.SchedulerLag(d.Workflow, lag)
	}
}

func (o schedulerObserver) Missed(workflow, _ string, _ scheduler.MissReason, n int) {
	o.m.MissedFires(workflow, n)
}
