package faults

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// restartCommand restarts the machine's PostgreSQL cluster (Debian layout).
const restartCommand = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart"

// TestPostgresRestart restarts the PostgreSQL server while two replicas
// execute ten for_each runs: the replicas reconnect, take triggers again
// and finish every run; no run and no item is lost.
//
// It restarts the server that every PostgreSQL test on the machine uses, so
// it holds the exclusive test lock (see pgtest): it waits for the other test
// processes' PostgreSQL tests and makes them wait. It is not parallel, so Go
// runs it before this package's parallel tests start.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault tests start herald processes; skipped with -short")
	}
	pgtest.DSN(t)
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		t.Skip("pg_ctlcluster is not installed; this test restarts a Debian PostgreSQL cluster")
	}
	pgtest.Exclusive(t)
	const (
		runs        = 10
		items       = 200
		parallelism = 4
	)
	e := newEnvLocked(t, modePostgres, true)
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
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 10})
	rs := []*replica{e.start("r1"), e.start("r2")}
	all := phones((runs + 1) * items)
	var ids []string
	for i := range runs {
		ids = append(ids, rs[i%2].hook(t, "blast", map[string]any{"phones": all[i*items : (i+1)*items]}, ""))
	}
	sent := func() int { return len(e.sb.Requests("chatapi")) }
	waitFor(t, 2*time.Minute, "a quarter of the items", func() bool { return sent() >= runs*items/4 })

	restartAt := sent()
	began := time.Now()
	out, err := exec.Command("sh", "-c", restartCommand).CombinedOutput()
	require.NoError(t, err, "%s: %s", restartCommand, out)
	down := time.Since(began)

	// The replicas take triggers again once they have reconnected.
	var late string
	waitFor(t, time.Minute, "a replica to take a trigger after the restart", func() bool {
		status, body := rs[0].post(t, "/hooks/blast", map[string]any{"phones": all[runs*items:]}, nil)
		if status != 202 {
			return false
		}
		late = string(body)
		return true
	})
	var lateID struct {
		RunIDs []string `json:"run_ids"`
	}
	require.NoError(t, jsonUnmarshal(late, &lateID))
	ids = append(ids, lateID.RunIDs...)

	finished := e.waitRuns(4*time.Minute, ids...)
	elapsed := time.Since(began)
	succeeded := 0
	for _, r := range finished {
		if r.Status == store.StatusSucceeded {
			succeeded++
		}
	}
	ok, sends := deliveries(t, e.sb)
	lost, duplicates := lostAndDuplicates(all, ok, sends)
	inFlight := runs * parallelism
	retried := 0
	for _, r := range rs {
		retried += r.logCount("run could not be executed; River retries it")
	}
	msg := fmt.Sprintf("postgres restart fault test: 2 replicas, %d runs of %d items; PostgreSQL restarted after %d deliveries (restart took %s; %d run slices failed on it and were retried by River), then 1 more run: %d of %d runs succeeded, lost items %d, duplicates %d (at most %d were in flight), all finished %s after the restart began",
		runs, items, restartAt, down.Round(time.Millisecond), retried, succeeded, len(ids), lost, duplicates, inFlight, elapsed.Round(time.Second))
	testfigures.Report(t, msg)
	require.Equal(t, len(ids), succeeded, "no run is lost")
	require.Zero(t, lost, "every item reaches the sandbox")
	require.LessOrEqual(t, duplicates, inFlight, "only items in flight at the restart are sent twice")
}
