package faults

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestCronFiresOnceAcrossReplicas runs three replicas on one PostgreSQL
// store with 50 workflows firing every second for 20 seconds: River's
// leader fires them, and every scheduled fire becomes exactly one run — no
// fire is lost, none runs twice.
func TestCronFiresOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	const (
		workflows = 50
		window    = 20 * time.Second
	)
	e := newEnv(t, modePostgres)
	var hcl strings.Builder
	for i := range workflows {
		fmt.Fprintf(&hcl, `workflow "tick-%02d" {
  trigger "cron" {
    schedule = "* * * * * *"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14150000%03d", body = "tick" }
  }
}
`, i, i)
	}
	e.project(hcl.String())
	rs := []*replica{e.start("r1"), e.start("r2"), e.start("r3")}

	// Count from the first whole second after some replica leads and fires.
	var start time.Time
	waitFor(t, time.Minute, "the first cron run", func() bool {
		runs, err := e.store().ListRuns(context.Background(), store.RunFilter{Limit: 1})
		require.NoError(t, err)
		if len(runs) == 0 {
			return false
		}
		start = runs[0].CreatedAt.Truncate(time.Second).Add(2 * time.Second)
		return true
	})
	end := start.Add(window)
	time.Sleep(time.Until(end.Add(3 * time.Second)))
	for _, r := range rs {
		r.stop(t)
	}

	runs, err := e.store().ListRuns(context.Background(), store.RunFilter{})
	require.NoError(t, err)
	type slot struct {
		workflow string
		at       time.Time
	}
	perSlot := map[slot]int{}
	perOwner := map[int]int{}
	statuses := map[store.Status]int{}
	for _, r := range runs {
		statuses[r.Status]++
		trig, err := engine.DecodeTrigger(r.Trigger)
		require.NoError(t, err)
		require.Equal(t, engine.KindCron, trig.Kind)
		perOwner[ownerPID(r.Owner)]++
		if !trig.ScheduledTime.Before(start) && trig.ScheduledTime.Before(end) {
			perSlot[slot{r.Workflow, trig.ScheduledTime.UTC()}]++
		}
	}
	slots := int(window / time.Second)
	hist := map[int]int{} // runs per slot → slots
	missing, duplicated := 0, 0
	for i := range workflows {
		wf := fmt.Sprintf("tick-%02d", i)
		for s := range slots {
			n := perSlot[slot{wf, start.Add(time.Duration(s) * time.Second).UTC()}]
			hist[n]++
			switch {
			case n == 0:
				missing++
			case n > 1:
				duplicated += n - 1
			}
		}
	}
	leaders := []string{}
	byPID := map[int]string{}
	for _, r := range rs {
		byPID[r.pid()] = r.name
		if r.logCount("elected leader") > 0 {
			leaders = append(leaders, r.name)
		}
	}
	executed := []string{}
	for pid, n := range perOwner {
		executed = append(executed, fmt.Sprintf("%s=%d", byPID[pid], n))
	}
	sort.Strings(executed)
	msg := fmt.Sprintf("cron fault test: 3 replicas, %d workflows every second, %d slots of 1s: runs per slot %v (runs→slots), missing %d, duplicates %d; leader(s) %v; runs executed per replica %v; run statuses %v",
		workflows, slots, hist, missing, duplicated, leaders, executed, statuses)
	testfigures.Report(t, msg)
	require.Zero(t, duplicated, "no fire runs twice")
	require.Zero(t, missing, "no fire is lost")
	require.Equal(t, map[int]int{1: workflows * slots}, hist)
	require.Zero(t, statuses[store.StatusFailed], "no run failed")
}
