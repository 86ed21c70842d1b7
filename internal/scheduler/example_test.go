package scheduler_test

import (
	"context"
	"os"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
	"github.com/heraldhq/herald/internal/store"
)

// The next fires of a daily 02:30 schedule in Berlin, across the night that
// has no 02:30, as `herald schedule WORKFLOW --next 3` prints them.
func ExampleUpcoming() {
	sched, _ := config.ParseSchedule("30 2 * * *")
	loc, _ := time.LoadLocation("Europe/Berlin")
	tr := &config.Trigger{Type: config.TriggerCron, Schedule: "30 2 * * *", Timezone: "Europe/Berlin", Location: loc, Cron: sched}

	fires := scheduler.Upcoming(tr, time.Date(2026, 3, 27, 12, 0, 0, 0, loc), 3)
	scheduler.Format(os.Stdout, fires, tr.Location)
	// Output:
	// Sat 2026-03-28 02:30:00 +01:00 CET
	// Sun 2026-03-29 03:00:00 +02:00 CEST  DST gap: 02:30 does not exist; fires at 03:00 CEST
	// Mon 2026-03-30 02:30:00 +02:00 CEST
}

// How a host wires the scheduler: Fire creates a queued run under the fire's
// idempotency key, so a fire handed over twice makes one run.
func Example() {
	run := func(ctx context.Context, st store.Store, project *config.Project) error {
		s, err := scheduler.New(scheduler.Options{
			Store: st,
			Fire: func(ctx context.Context, d scheduler.Due) error {
				r := store.Run{ID: store.NewRunID(), Workflow: d.Workflow, Status: store.StatusQueued, CreatedAt: time.Now()}
				_, _, err := st.CreateRun(ctx, r, d.IdempotencyKey(), 7*24*time.Hour)
				return err
			},
		})
		if err != nil {
			return err
		}
		if err := s.Load(project); err != nil {
			return err
		}
		return s.Run(ctx) // until ctx ends; call s.Load again on reload
	}
	_ = run
}
