package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestLeaderKilledCronCatchesUp kills (SIGKILL) the replica that fires cron
// triggers. Until River elects another leader no replica fires; the new
// leader then applies each trigger's catchup policy to the fires nobody
// made — "all" here — so every scheduled second still has exactly one run.
func TestLeaderKilledCronCatchesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, modePostgres)
	e.project(`workflow "tick" {
  trigger "cron" {
    schedule = "* * * * * *"
    catchup  = "all"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14150000001", body = "tick" }
  }
}
`)
	rs := []*replica{e.start("r1"), e.start("r2"), e.start("r3")}
	var leader *replica
	waitFor(t, time.Minute, "a leader", func() bool {
		for _, r := range rs {
			if r.logCount("elected leader") > 0 {
				leader = r
				return true
			}
		}
		return false
	})
	time.Sleep(3 * time.Second)
	leader.kill()
	killedAt := time.Now()
	var next *replica
	waitFor(t, 2*time.Minute, "another leader", func() bool {
		for _, r := range rs {
			if r != leader && r.logCount("elected leader") > 0 {
				next = r
				return true
			}
		}
		return false
	})
	gap := time.Since(killedAt)
	time.Sleep(3 * time.Second)
	end := time.Now().Truncate(time.Second)
	for _, r := range rs {
		if r != leader {
			r.stop(t)
		}
	}

	runs, err := e.store().ListRuns(context.Background(), store.RunFilter{Workflow: "tick"})
	require.NoError(t, err)
	perSlot := map[time.Time]int{}
	first, caughtUp := time.Time{}, 0
	for _, r := range runs {
		trig, err := engine.DecodeTrigger(r.Trigger)
		require.NoError(t, err)
		at := trig.ScheduledTime.UTC()
		perSlot[at]++
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if trig.Catchup {
			caughtUp++
		}
	}
	missing, duplicated, slots := 0, 0, 0
	for at := first; at.Before(end); at = at.Add(time.Second) {
		slots++
		switch n := perSlot[at]; {
		case n == 0:
			missing++
		case n > 1:
			duplicated += n - 1
		}
	}
	msg := fmt.Sprintf("leader failover test: 3 replicas, a cron trigger every second with catchup \"all\"; leader %s killed, %s elected %s later; %d slots: missing %d, duplicates %d, runs made by catch-up %d",
		leader.name, next.name, gap.Round(100*time.Millisecond), slots, missing, duplicated, caughtUp)
	testfigures.Report(t, msg)
	require.Zero(t, duplicated, "no fire runs twice")
	require.Zero(t, missing, "the new leader catches up every fire no replica made")
	require.Positive(t, caughtUp, "the gap was caught up, not fired on time")
}
