package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
)

// Daylight-saving transitions of 2026 the tests cross.
const (
	berlin  = "Europe/Berlin"    // gap 2026-03-29 02:00-03:00, overlap 2026-10-25 02:00-03:00
	newYork = "America/New_York" // gap 2026-03-08 02:00-03:00, overlap 2026-11-01 01:00-02:00
)

// cronTrigger returns a cron trigger as the loader builds it.
func cronTrigger(t testing.TB, schedule, tz string, catchup ...config.Catchup) *config.Trigger {
	t.Helper()
	sched, err := config.ParseSchedule(schedule)
	require.NoError(t, err)
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	tr := &config.Trigger{Type: config.TriggerCron, Schedule: schedule, Timezone: tz, Location: loc, Cron: sched, Catchup: config.CatchupSkip}
	if len(catchup) > 0 {
		tr.Catchup = catchup[0]
	}
	return tr
}

// local parses "2006-01-02 15:04:05" in tz; for a wall time that happens
// twice, Go picks one of the two, so such times are written in UTC with a
// trailing Z ("2026-10-25 00:59:30Z") and converted to tz.
func local(t testing.TB, tz, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	if utc, ok := strings.CutSuffix(s, "Z"); ok {
		at, err := time.Parse(time.DateTime, utc)
		require.NoError(t, err)
		return at.In(loc)
	}
	at, err := time.ParseInLocation(time.DateTime, s, loc)
	require.NoError(t, err)
	return at
}

// stamp writes a time as the tests compare it: wall time and zone.
func stamp(at time.Time) string { return at.Format("2006-01-02 15:04:05 MST") }
