package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestSIGTERMHandsTheRunOver stops (SIGTERM) the replica executing a
// for_each run: it lets the sends in flight finish and records them, hands
// the run back to the queue and exits 0, and the other replica goes on at
// once from the last recorded item, without waiting for River's rescue and
// without sending any item twice.
func TestSIGTERMHandsTheRunOver(t *testing.T) {
	t.Parallel()
	const (
		items       = 2000
		parallelism = 8
	)
	e := newEnv(t, modePostgres)
	e.project(fmt.Sprintf(`workflow "blast" {
  trigger "webhook" {
    path = "blast"
  }
  step "each" {
    for_each    = "{{ trigger.body.phones }}"
    parallelism = %d
    uses        = "chatapi.send_message"
    with        = { phone = "{{ item }}", body = "item {{ index }}" }
  }
}
`, parallelism))
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 5})
	rs := []*replica{e.start("r1"), e.start("r2")}
	id := rs[0].hook(t, "blast", map[string]any{"phones": phones(items)}, "")
	sent := func() int { return len(e.sb.Requests("chatapi")) }
	waitFor(t, time.Minute, "a third of the items", func() bool { return sent() >= items/3 })

	run, err := e.store().GetRun(t.Context(), id)
	require.NoError(t, err)
	owner, other := rs[0], rs[1]
	if rs[1].pid() == ownerPID(run.Owner) {
		owner, other = rs[1], rs[0]
	}
	stoppedAt := sent()
	began := time.Now()
	owner.stop(t)
	exit := owner.cmd.ProcessState.ExitCode()
	stopTook := time.Since(began)

	run = e.waitRuns(time.Minute, id)[0]
	finishedAfter := time.Since(began)
	ok, all := deliveries(t, e.sb)
	lost, duplicates := 0, 0
	for _, p := range phones(items) {
		if ok[p] == 0 {
			lost++
		}
		duplicates += max(all[p]-1, 0)
	}
	msg := fmt.Sprintf("SIGTERM handoff test: %d items; the executing replica got SIGTERM after %d deliveries, exited %d in %s; the run %s on %s %s after the signal: lost %d, sent twice %d",
		items, stoppedAt, exit, stopTook.Round(time.Millisecond), run.Status, other.name, finishedAfter.Round(time.Millisecond), lost, duplicates)
	testfigures.Report(t, msg)
	require.Zero(t, exit, "SIGTERM exits 0")
	require.Equal(t, store.StatusSucceeded, run.Status, run.Error)
	require.Equal(t, other.pid(), ownerPID(run.Owner), "the other replica finished the run")
	require.Zero(t, lost)
	require.Zero(t, duplicates, "a checkpoint records every send in flight")
	require.Less(t, finishedAfter, 30*time.Second, "the run moved on at once, not after River's rescue")
}
