package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestKilledReplicasLoseNoItem runs a 10,000-item for_each run and kills
// (SIGKILL) the replica executing it three times, restarting it each time.
// A run is one River job, so it executes on one replica at a time; after
// each kill another replica rescues it (on PostgreSQL) or the restarted
// host resumes it (on SQLite), from its last recorded item. Every item
// reaches the sandbox, and none twice: an item in flight at a kill has its
// attempt recorded as started without a result, so the resumed run asks
// Chat API whether it went out (reconcile) instead of sending it again.
func TestKilledReplicasLoseNoItem(t *testing.T) {
	t.Parallel()
	eachMode(t, testKilledReplicasLoseNoItem)
}

func testKilledReplicasLoseNoItem(t *testing.T, mode string) {
	const (
		items       = 10_000
		parallelism = 8
		kills       = 3
	)
	e := newEnv(t, mode)
	e.extra = append(e.extra, "HERALD_RUN_SLICE=3s")
	e.project(fmt.Sprintf(`workflow "blast" {
  trigger "webhook" {
    path = "blast"
  }
  step "each" {
    for_each    = "{{ trigger.body.phones }}"
    parallelism = %d
    uses        = "chatapi.send_message"
    with        = { phone = "{{ item }}", body = "item {{ index }}" }
    timeout     = "5s"
    retry {
      max_attempts     = 5
      initial_interval = "200ms"
    }
  }
}
`, parallelism))
	// Slow every send a little, so the kills land mid-run.
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 2})

	names := []string{"r1"}
	if mode == modePostgres {
		names = []string{"r1", "r2", "r3"}
	}
	live := map[string]*replica{}
	for _, n := range names {
		live[n] = e.start(n)
	}
	begin := time.Now()
	id := live["r1"].hook(t, "blast", map[string]any{"phones": phones(items)}, "")

	sent := func() int { return len(e.sb.Requests("chatapi")) }
	var killedAt []int
	for k := range kills {
		threshold := (k + 1) * items / (kills + 1)
		waitFor(t, 4*time.Minute, fmt.Sprintf("%d deliveries", threshold), func() bool { return sent() >= threshold })
		// Kill the replica that executes the run now.
		var victim string
		waitFor(t, time.Minute, "the run's owner to be a live replica", func() bool {
			run, err := e.store().GetRun(context.Background(), id)
			require.NoError(t, err)
			for n, r := range live {
				if r.pid() == ownerPID(run.Owner) {
					victim = n
					return true
				}
			}
			return false
		})
		live[victim].kill()
		killedAt = append(killedAt, sent())
		live[victim] = e.start(victim)
	}
	require.Less(t, killedAt[len(killedAt)-1], items, "the run finished before the last kill")

	run := e.waitRuns(5*time.Minute, id)[0]
	elapsed := time.Since(begin)
	ok, all := deliveries(t, e.sb)
	lost, duplicates := lostAndDuplicates(phones(items), ok, all)
	reconciled := e.countOutcome(id, store.OutcomeReconciled)
	msg := fmt.Sprintf("for_each fault test (%s, %d replica(s)): %d items, parallelism %d, killed the executing replica %d times (after %v deliveries): lost %d, duplicates %d (at most %d items were in flight at the kills; %d in-flight sends found by reconcile), run %s in %s",
		mode, len(names), items, parallelism, kills, killedAt, lost, duplicates, parallelism*kills, reconciled, run.Status, elapsed.Round(time.Second))
	testfigures.Report(t, msg)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Error)
	require.Zero(t, lost, "every item reaches the sandbox")
	require.Zero(t, duplicates, "an item in flight at a kill is reconciled, not sent twice")
}
