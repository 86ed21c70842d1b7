package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
	"github.com/heraldhq/herald/internal/store"
)

// entry returns the scheduler entry of a workflow's only cron trigger.
func entry(workflow string, tr *config.Trigger) scheduler.Entry {
	return scheduler.Entry{Workflow: workflow, Key: scheduler.TriggerKey(0, tr), Trigger: tr}
}

func TestFiresAcrossDST(t *testing.T) {
	t.Parallel()
	tr := cronTrigger(t, "30 2 * * *", berlin)
	h := setup(t, local(t, berlin, "2026-03-28 00:00:00"))
	e := entry("backup", tr)
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()

	for _, at := range []string{"2026-03-28 02:30:00", "2026-03-29 03:00:00", "2026-03-30 02:30:00"} {
		want := local(t, berlin, at)
		h.asleepUntil(want)
		h.clock.Set(want)
		f := h.next()
		require.Equal(t, stamp(want), stamp(f.due.ScheduledTime))
		require.Equal(t, scheduler.Due{Workflow: "backup", TriggerKey: e.Key, ScheduledTime: f.due.ScheduledTime}, f.due)
		require.False(t, f.existed)
		h.stateReaches("backup", e.Key, want, scheduler.Next(tr, want))
	}
	h.quiet()
}

func TestFiresOnceInTheRepeatedHour(t *testing.T) {
	t.Parallel()
	tr := cronTrigger(t, "0 * * * *", newYork)
	h := setup(t, local(t, newYork, "2026-11-01 00:30:00"))
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{entry("hourly", tr)}))
	h.run()

	firstOne := local(t, newYork, "2026-11-01 05:00:00Z") // 01:00 EDT
	h.asleepUntil(firstOne)
	h.clock.Set(firstOne)
	require.Equal(t, "2026-11-01 01:00:00 EDT", stamp(h.next().due.ScheduledTime))

	// 01:00 EST, the repeated 01:00, passes without a fire.
	h.clock.Set(local(t, newYork, "2026-11-01 06:00:00Z"))
	h.quiet()
	two := local(t, newYork, "2026-11-01 02:00:00")
	h.asleepUntil(two)
	h.clock.Set(two)
	require.Equal(t, "2026-11-01 02:00:00 EST", stamp(h.next().due.ScheduledTime))
	h.quiet()
}

func TestCatchup(t *testing.T) {
	t.Parallel()
	day := func(d, h int) time.Time { return time.Date(2026, 5, d, h, 0, 0, 0, time.UTC) }
	cases := []struct {
		catchup config.Catchup
		want    []string
		missed  map[scheduler.MissReason]int
		last    time.Time
	}{
		{config.CatchupSkip, []string{}, map[scheduler.MissReason]int{scheduler.MissCatchup: 4}, day(10, 9)},
		{config.CatchupLatest, []string{"2026-05-14 09:00:00 UTC"}, map[scheduler.MissReason]int{scheduler.MissCatchup: 3}, day(14, 9)},
		{config.CatchupAll, []string{"2026-05-11 09:00:00 UTC", "2026-05-12 09:00:00 UTC", "2026-05-13 09:00:00 UTC", "2026-05-14 09:00:00 UTC"}, map[scheduler.MissReason]int{}, day(14, 9)},
	}
	for _, tc := range cases {
		t.Run(string(tc.catchup), func(t *testing.T) {
			t.Parallel()
			tr := cronTrigger(t, "0 9 * * *", "UTC", tc.catchup)
			e := entry("digest", tr)
			// The host went down after the fire of the 10th and comes back
			// at noon on the 14th.
			h := setup(t, day(14, 12), func(o *scheduler.Options) { o.Workers = 1 })
			require.NoError(t, h.store.SetCronState(t.Context(), store.CronState{Workflow: "digest", Trigger: e.Key, Last: day(10, 9), Next: day(11, 9)}))
			require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
			h.run()

			got := h.expect(len(tc.want))
			require.Equal(t, tc.want, scheduledTimes(got))
			for _, f := range got {
				require.True(t, f.due.Catchup)
			}
			h.stateReaches("digest", e.Key, tc.last, day(15, 9))
			h.quiet()
			require.Equal(t, tc.missed, h.obs.misses())
		})
	}
}

func TestCatchupAllIsCapped(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "* * * * *", "UTC", config.CatchupAll)
	e := entry("minutely", tr)
	h := setup(t, now, func(o *scheduler.Options) { o.Workers, o.MaxCatchup = 1, 100 })
	// 300 fires were missed: 07:01 to 12:00.
	require.NoError(t, h.store.SetCronState(t.Context(), store.CronState{Workflow: "minutely", Trigger: e.Key, Next: now.Add(-299 * time.Minute)}))
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()

	got := h.expect(100)
	require.Equal(t, "2026-05-14 10:21:00 UTC", stamp(got[0].due.ScheduledTime), "the newest 100 are kept")
	require.Equal(t, "2026-05-14 12:00:00 UTC", stamp(got[99].due.ScheduledTime))
	for i := 1; i < len(got); i++ {
		require.Equal(t, time.Minute, got[i].due.ScheduledTime.Sub(got[i-1].due.ScheduledTime), "in order")
	}
	h.stateReaches("minutely", e.Key, now, now.Add(time.Minute))
	h.quiet()
	require.Equal(t, map[scheduler.MissReason]int{scheduler.MissCapped: 200}, h.obs.misses())
	require.Contains(t, h.logs.String(), "missed=300")
	require.Contains(t, h.logs.String(), "running=100")
}

func TestCatchupAfterAnOutageAcrossDST(t *testing.T) {
	t.Parallel()
	tr := cronTrigger(t, "30 2 * * *", berlin, config.CatchupAll)
	e := entry("backup", tr)
	h := setup(t, local(t, berlin, "2026-03-30 12:00:00"), func(o *scheduler.Options) { o.Workers = 1 })
	require.NoError(t, h.store.SetCronState(t.Context(), store.CronState{Workflow: "backup", Trigger: e.Key, Next: local(t, berlin, "2026-03-28 02:30:00")}))
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()
	require.Equal(t, []string{"2026-03-28 02:30:00 CET", "2026-03-29 03:00:00 CEST", "2026-03-30 02:30:00 CEST"}, scheduledTimes(h.expect(3)))
	h.quiet()
}

func TestTriggerWithoutStateStartsFromNow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "0 9 * * *", "UTC", config.CatchupAll)
	e := entry("digest", tr)
	h := setup(t, now)
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()
	// The next fire is stored before it happens, so an outage before it is
	// caught up.
	h.stateReaches("digest", e.Key, time.Time{}, time.Date(2026, 5, 15, 9, 0, 0, 0, time.UTC))
	h.quiet()
}

// TestRestartBetweenFireAndStateWrite checks that a fire handed over just
// before the host died is neither lost nor run twice: its state write never
// happened, so the next start hands it over again, under the same key, and
// the store returns the run the first hand-over created.
func TestRestartBetweenFireAndStateWrite(t *testing.T) {
	t.Parallel()
	for _, catchup := range []config.Catchup{config.CatchupSkip, config.CatchupLatest, config.CatchupAll} {
		t.Run(string(catchup), func(t *testing.T) {
			t.Parallel()
			at := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
			tr := cronTrigger(t, "0 9 * * *", "UTC", catchup)
			e := entry("digest", tr)
			first := setup(t, at.Add(-time.Minute))
			require.NoError(t, first.store.SetCronState(t.Context(), store.CronState{Workflow: "digest", Trigger: e.Key, Next: at}))
			require.NoError(t, first.sched.SetTriggers([]scheduler.Entry{e}))

			// The store takes the run but no state write: the host dies
			// between the two.
			first.store.failWrites.Store(true)
			first.run()
			first.asleepUntil(at)
			first.clock.Set(at)
			handed := first.next()
			require.False(t, handed.existed)
			first.stop()
			require.Equal(t, at, first.state("digest", e.Key).Next.UTC(), "the state still points at the fire")

			first.store.failWrites.Store(false)
			first.clock.Advance(5 * time.Second)
			second := setupWith(t, first.clock, first.store)
			require.NoError(t, second.sched.SetTriggers([]scheduler.Entry{e}))
			second.run()
			if catchup != config.CatchupSkip {
				again := second.next()
				require.Equal(t, handed.due.IdempotencyKey(), again.due.IdempotencyKey())
				require.True(t, again.existed, "the second hand-over finds the first run")
				require.Equal(t, handed.runID, again.runID)
			}
			second.stateReaches("digest", e.Key, lastOf(catchup, at), at.Add(24*time.Hour))
			second.quiet()
			require.Len(t, second.runs("digest"), 1)
		})
	}
}

// lastOf returns the Last a trigger stores after the restart test: skip
// never hands the fire over again, so the restarted scheduler does not know
// it ran.
func lastOf(catchup config.Catchup, at time.Time) time.Time {
	if catchup == config.CatchupSkip {
		return time.Time{}
	}
	return at
}

func TestFireIsRetriedUnderTheSameKey(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "0 9 * * *", "UTC")
	e := entry("digest", tr)
	h := setup(t, at.Add(-time.Minute), func(o *scheduler.Options) { o.RetryDelay = time.Second })
	var calls atomic.Int32
	var keys []string
	h.fail = func(d scheduler.Due) error {
		keys = append(keys, d.IdempotencyKey())
		if calls.Add(1) <= 2 {
			return errors.New("store is busy")
		}
		return nil
	}
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()
	h.asleepUntil(at)
	h.clock.Set(at)

	// Backoff doubles: one second, then two.
	for i, delay := range []time.Duration{time.Second, 2 * time.Second} {
		require.Eventually(t, func() bool { return calls.Load() == int32(i+1) }, wait, time.Millisecond)
		h.asleepUntil(h.clock.Now().Add(delay))
		h.clock.Advance(delay)
	}
	f := h.next()
	require.Equal(t, int32(3), calls.Load())
	require.Equal(t, []string{f.due.IdempotencyKey(), f.due.IdempotencyKey(), f.due.IdempotencyKey()}, keys)
	h.stateReaches("digest", e.Key, at, at.Add(24*time.Hour))
	require.Empty(t, h.obs.misses())
}

func TestFireThatKeepsFailingIsMissed(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "0 9 * * *", "UTC")
	e := entry("digest", tr)
	h := setup(t, at.Add(-time.Minute), func(o *scheduler.Options) { o.FireAttempts, o.RetryDelay = 2, time.Second })
	var calls atomic.Int32
	h.fail = func(scheduler.Due) error { calls.Add(1); return errors.New("store is down") }
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()
	h.asleepUntil(at)
	h.clock.Set(at)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, wait, time.Millisecond)
	h.asleepUntil(at.Add(time.Second))
	h.clock.Advance(time.Second)

	// Given up: counted, logged, and the trigger moves on.
	h.stateReaches("digest", e.Key, time.Time{}, at.Add(24*time.Hour))
	require.Equal(t, int32(2), calls.Load())
	require.Equal(t, map[scheduler.MissReason]int{scheduler.MissFailed: 1}, h.obs.misses())
	require.Contains(t, h.logs.String(), "fire failed; giving up")
}

func TestSlowFireDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
	h := setup(t, at.Add(-time.Minute))
	release := make(chan struct{})
	h.block = func(d scheduler.Due) {
		if d.Workflow == "slow" {
			<-release
		}
	}
	entries := []scheduler.Entry{entry("slow", cronTrigger(t, "0 9 * * *", "UTC"))}
	for _, name := range []string{"a", "b", "c"} {
		entries = append(entries, entry(name, cronTrigger(t, "0 9 * * *", "UTC")))
	}
	require.NoError(t, h.sched.SetTriggers(entries))
	h.run()
	h.asleepUntil(at)
	h.clock.Set(at)

	got := h.expect(3)
	require.ElementsMatch(t, []string{"a", "b", "c"}, []string{got[0].due.Workflow, got[1].due.Workflow, got[2].due.Workflow})
	close(release)
	require.Equal(t, "slow", h.next().due.Workflow)
}

func TestSetTriggersReloads(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 14, 8, 30, 0, 0, time.UTC)
	h := setup(t, now)
	kept := entry("kept", cronTrigger(t, "0 9 * * *", "UTC"))
	removed := entry("removed", cronTrigger(t, "0 9 * * *", "UTC"))
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{kept, removed}))
	h.run()
	nine := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
	h.stateReaches("kept", kept.Key, time.Time{}, nine)

	// The added trigger has old state (from an earlier edit): it starts
	// from now all the same, without catching up.
	added := entry("added", cronTrigger(t, "15 9 * * *", "UTC", config.CatchupAll))
	require.NoError(t, h.store.SetCronState(t.Context(), store.CronState{Workflow: "added", Trigger: added.Key, Next: now.Add(-48 * time.Hour)}))
	edited := kept
	edited.Trigger = cronTrigger(t, "0 9 * * *", "UTC", config.CatchupLatest)
	require.Equal(t, kept.Key, edited.Key, "a new catchup policy keeps the key")
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{edited, added}))

	next, ok := h.sched.NextFire("kept", kept.Key)
	require.True(t, ok)
	require.Equal(t, nine, next.UTC())
	_, ok = h.sched.NextFire("removed", removed.Key)
	require.False(t, ok)
	next, ok = h.sched.NextFire("added", added.Key)
	require.True(t, ok)
	require.Equal(t, nine.Add(15*time.Minute), next.UTC())
	h.stateReaches("added", added.Key, time.Time{}, nine.Add(15*time.Minute))
	h.quiet()

	h.asleepUntil(nine)
	h.clock.Set(nine)
	require.Equal(t, "kept", h.next().due.Workflow)
	h.asleepUntil(nine.Add(15 * time.Minute))
	h.clock.Set(nine.Add(15 * time.Minute))
	require.Equal(t, "added", h.next().due.Workflow)
	h.quiet()

	// An edited schedule is a new key, so the edit starts fresh.
	require.NotEqual(t, kept.Key, scheduler.TriggerKey(0, cronTrigger(t, "0 10 * * *", "UTC")))
	require.NotEqual(t, kept.Key, scheduler.TriggerKey(0, cronTrigger(t, "0 9 * * *", berlin)))
}

func TestSetTriggersRejectsBadEntries(t *testing.T) {
	t.Parallel()
	h := setup(t, time.Now())
	tr := cronTrigger(t, "0 9 * * *", "UTC")
	require.ErrorContains(t, h.sched.SetTriggers([]scheduler.Entry{entry("a", tr), entry("a", tr)}), "listed twice")
	require.ErrorContains(t, h.sched.SetTriggers([]scheduler.Entry{{Workflow: "a", Key: "0", Trigger: &config.Trigger{Type: config.TriggerWebhook}}}), "not a cron trigger")
	require.ErrorContains(t, h.sched.SetTriggers([]scheduler.Entry{{Key: "0", Trigger: tr}}), "no workflow")
}

func TestOnlyTheLeaderFires(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "0 * * * *", "UTC")
	e := entry("hourly", tr)
	var leader atomic.Bool
	h := setup(t, at.Add(-time.Minute), func(o *scheduler.Options) { o.IsLeader = leader.Load })
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()

	h.asleepUntil(at)
	h.clock.Set(at)
	h.asleepUntil(at.Add(time.Hour))
	h.quiet()
	_, err := h.store.CronState(t.Context(), "hourly", e.Key)
	require.ErrorIs(t, err, store.ErrNotFound, "a follower writes no state")

	leader.Store(true)
	h.clock.Set(at.Add(time.Hour))
	require.Equal(t, at.Add(time.Hour), h.next().due.ScheduledTime.UTC())
	h.stateReaches("hourly", e.Key, at.Add(time.Hour), at.Add(2*time.Hour))
}

func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	h := setup(t, time.Now())
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{entry("a", cronTrigger(t, "0 9 * * *", "UTC"))}))
	h.run()
	h.stop()
	require.ErrorContains(t, h.sched.Run(context.Background()), "once")
}

func TestStoreErrorStopsRun(t *testing.T) {
	t.Parallel()
	h := setup(t, time.Now())
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{entry("a", cronTrigger(t, "0 9 * * *", "UTC"))}))
	require.NoError(t, h.store.Close())
	err := h.sched.Run(t.Context())
	require.ErrorContains(t, err, `load cron state of workflow "a"`)
}

func TestNewNeedsStoreAndFire(t *testing.T) {
	t.Parallel()
	_, err := scheduler.New(scheduler.Options{Fire: func(context.Context, scheduler.Due) error { return nil }})
	require.ErrorContains(t, err, "store")
	h := setup(t, time.Now())
	_, err = scheduler.New(scheduler.Options{Store: h.store})
	require.ErrorContains(t, err, "fire")
}

func TestDueIdempotencyKey(t *testing.T) {
	t.Parallel()
	tr := cronTrigger(t, "0  9 * *   MON-FRI", berlin)
	d := scheduler.Due{Workflow: "oncall-digest", TriggerKey: scheduler.TriggerKey(0, tr), ScheduledTime: local(t, berlin, "2026-03-30 09:00:00")}
	require.Equal(t, "0:0 9 * * MON-FRI@Europe/Berlin", d.TriggerKey)
	require.Equal(t, "cron:oncall-digest:0:0 9 * * MON-FRI@Europe/Berlin:2026-03-30T07:00:00Z", d.IdempotencyKey())
	long := cronTrigger(t, "0 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 * * MON,TUE,WED,THU,FRI", "UTC")
	require.Equal(t, "3:sha256:01595caf95935691@UTC", scheduler.TriggerKey(3, long))
	d.ScheduledTime = d.ScheduledTime.UTC()
	require.Equal(t, "cron:oncall-digest:0:0 9 * * MON-FRI@Europe/Berlin:2026-03-30T07:00:00Z", d.IdempotencyKey(), "the key does not depend on the zone the time is in")
}

func TestFullQueueDropsFires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "* * * * *", "UTC", config.CatchupAll)
	e := entry("minutely", tr)
	h := setup(t, now, func(o *scheduler.Options) { o.MaxQueued = 3 })
	require.NoError(t, h.store.SetCronState(t.Context(), store.CronState{Workflow: "minutely", Trigger: e.Key, Next: now.Add(-4 * time.Minute)}))
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()
	require.Equal(t, []string{"2026-05-14 11:56:00 UTC", "2026-05-14 11:57:00 UTC", "2026-05-14 11:58:00 UTC"}, sortedTimes(h.expect(3)))
	h.quiet()
	require.Equal(t, map[scheduler.MissReason]int{scheduler.MissOverloaded: 2}, h.obs.misses())
}

// TestShutdownLeavesUnfinishedFiresToTheNextStart checks that fires still
// queued or in Fire when Run stops are not recorded as handed over: the
// stored next fire is the oldest of them.
func TestShutdownLeavesUnfinishedFiresToTheNextStart(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
	tr := cronTrigger(t, "* * * * *", "UTC", config.CatchupAll)
	e := entry("minutely", tr)
	entered := make(chan struct{}, 10)
	h := setup(t, now, func(o *scheduler.Options) {
		o.Workers = 1
		o.Fire = func(ctx context.Context, _ scheduler.Due) error {
			entered <- struct{}{}
			<-ctx.Done() // a store that hangs until shutdown
			return ctx.Err()
		}
	})
	require.NoError(t, h.store.SetCronState(t.Context(), store.CronState{Workflow: "minutely", Trigger: e.Key, Next: now.Add(-2 * time.Minute)}))
	require.NoError(t, h.sched.SetTriggers([]scheduler.Entry{e}))
	h.run()
	<-entered
	h.stop()
	require.Positive(t, h.store.writes.Load(), "the state was written at shutdown")
	st := h.state("minutely", e.Key)
	require.Equal(t, now.Add(-2*time.Minute), st.Next.UTC(), "the first unfinished fire")
	require.True(t, st.Last.IsZero())
}
