package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler/clocktest"
	"github.com/heraldhq/herald/internal/store"
)

// trigger returns a cron trigger in tz.
func trigger(t *testing.T, schedule, tz string, catchup config.Catchup) *config.Trigger {
	t.Helper()
	sched, err := config.ParseSchedule(schedule)
	require.NoError(t, err)
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	return &config.Trigger{Type: config.TriggerCron, Schedule: schedule, Timezone: tz, Location: loc, Cron: sched, Catchup: catchup}
}

func TestMissedKeepsTheNewest(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

	t.Run("daily over a year", func(t *testing.T) {
		s := compile(trigger(t, "0 9 * * *", "UTC", config.CatchupLatest))
		m := s.missed(from, from.AddDate(1, 0, 0).Add(3*time.Hour), 1)
		require.Equal(t, []time.Time{from.AddDate(1, 0, 0)}, utc(m.kept))
		require.Equal(t, 366, m.total)
		require.True(t, m.exact)
		require.Equal(t, from.AddDate(1, 0, 1), m.next.UTC())
	})

	t.Run("every second over a day", func(t *testing.T) {
		s := compile(trigger(t, "* * * * * *", "UTC", config.CatchupAll))
		to := from.Add(24 * time.Hour)
		start := time.Now()
		m := s.missed(from, to, 100)
		require.Less(t, time.Since(start), 5*time.Second, "a long outage costs little")
		require.Len(t, m.kept, 100)
		require.Equal(t, to.Add(-99*time.Second), m.kept[0].UTC())
		require.Equal(t, to, m.kept[99].UTC())
		require.False(t, m.exact, "86,401 fires are counted only up to a limit")
		require.Greater(t, m.total, countLimit)
		require.Equal(t, to.Add(time.Second), m.next.UTC())
	})

	t.Run("skip counts", func(t *testing.T) {
		s := compile(trigger(t, "*/10 * * * *", "UTC", config.CatchupSkip))
		m := s.missed(from, from.Add(time.Hour), 0)
		require.Empty(t, m.kept)
		require.Equal(t, 7, m.total)
		require.True(t, m.exact)
	})

	t.Run("every is a chain from the stored next fire", func(t *testing.T) {
		s := compile(trigger(t, "@every 1h", "UTC", config.CatchupAll))
		anchor := from.Add(17 * time.Minute)
		m := s.missed(anchor, anchor.Add(10*time.Hour+30*time.Minute), 3)
		require.Equal(t, []time.Time{anchor.Add(8 * time.Hour), anchor.Add(9 * time.Hour), anchor.Add(10 * time.Hour)}, utc(m.kept))
		require.Equal(t, 11, m.total)
		require.Equal(t, anchor.Add(11*time.Hour), m.next.UTC())
	})
}

// TestStallAppliesTheCatchupPolicy checks the loop after it woke far too late
// (a suspended machine): the first due fire is handed over, and the others
// that came due meanwhile follow the trigger's catchup policy.
func TestStallAppliesTheCatchupPolicy(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		catchup config.Catchup
		want    []time.Duration // scheduled times queued, after start
	}{
		{config.CatchupSkip, []time.Duration{time.Minute}},
		{config.CatchupLatest, []time.Duration{time.Minute, 5 * time.Minute}},
		{config.CatchupAll, []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute}},
	} {
		t.Run(string(tc.catchup), func(t *testing.T) {
			t.Parallel()
			s, err := New(Options{Store: nopStore{}, Fire: nopFire, Clock: clocktest.New(start)})
			require.NoError(t, err)
			s.started = true
			tr := trigger(t, "* * * * *", "UTC", tc.catchup)
			require.NoError(t, s.SetTriggers([]Entry{{Workflow: "w", Key: TriggerKey(0, tr), Trigger: tr}}))

			head := s.dispatch(start.Add(5*time.Minute + 30*time.Second))
			require.Equal(t, start.Add(6*time.Minute), head.UTC())
			var got []time.Duration
			for s.queue.len() > 0 {
				w, _ := s.queue.pop()
				require.Equal(t, w.due.ScheduledTime != start.Add(time.Minute), w.due.Catchup)
				got = append(got, w.due.ScheduledTime.Sub(start))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

// nopStore is a store the tests of dispatch never reach.
type nopStore struct{ store.Store }

func nopFire(_ context.Context, _ Due) error { return nil }

// ninety is a schedule of another kind than robfig/cron's: every 90 seconds
// after the previous fire.
type ninety struct{}

func (ninety) Next(t time.Time) time.Time { return t.Add(90 * time.Second) }

func TestOtherSchedulesAreChains(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	s := compile(&config.Trigger{Type: config.TriggerCron, Cron: ninety{}})
	next, _ := s.next(from)
	require.Equal(t, from.Add(90*time.Second), next)

	m := s.missed(from, from.Add(10*time.Minute), 2)
	require.Equal(t, []time.Time{from.Add(450 * time.Second), from.Add(540 * time.Second)}, m.kept)
	require.Equal(t, 7, m.total)
	require.Equal(t, from.Add(630*time.Second), m.next)
}
