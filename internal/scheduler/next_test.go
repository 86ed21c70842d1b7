package scheduler_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/scheduler"
)

// TestNextDST is the specification of fire times around daylight-saving
// transitions: a wall time in a spring-forward gap fires once at the end of
// the gap, a wall time in a fall-back overlap fires once at its first
// occurrence, and @every follows elapsed time.
func TestNextDST(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		schedule string
		tz       string
		from     string
		want     []string
	}{
		// Spring forward: 02:00-03:00 does not exist.
		{"berlin daily 02:30 in the gap", "30 2 * * *", berlin, "2026-03-27 12:00:00", []string{
			"2026-03-28 02:30:00 CET", "2026-03-29 03:00:00 CEST", "2026-03-30 02:30:00 CEST"}},
		{"new york daily 02:30 in the gap", "30 2 * * *", newYork, "2026-03-06 12:00:00", []string{
			"2026-03-07 02:30:00 EST", "2026-03-08 03:00:00 EDT", "2026-03-09 02:30:00 EDT"}},
		// Fall back: the overlap hour happens twice, the fire happens once.
		{"berlin daily 02:30 in the overlap", "30 2 * * *", berlin, "2026-10-23 12:00:00", []string{
			"2026-10-24 02:30:00 CEST", "2026-10-25 02:30:00 CEST", "2026-10-26 02:30:00 CET"}},
		{"new york daily 01:30 in the overlap", "30 1 * * *", newYork, "2026-10-30 12:00:00", []string{
			"2026-10-31 01:30:00 EDT", "2026-11-01 01:30:00 EDT", "2026-11-02 01:30:00 EST"}},
		{"new york daily 02:30 after the overlap", "30 2 * * *", newYork, "2026-10-31 12:00:00", []string{
			"2026-11-01 02:30:00 EST", "2026-11-02 02:30:00 EST"}},
		// Hourly: the missing hour merges into 03:00; the repeated hour does
		// not fire again.
		{"berlin hourly across the gap", "0 * * * *", berlin, "2026-03-28 23:30:00", []string{
			"2026-03-29 00:00:00 CET", "2026-03-29 01:00:00 CET", "2026-03-29 03:00:00 CEST", "2026-03-29 04:00:00 CEST"}},
		{"berlin hourly across the overlap", "0 * * * *", berlin, "2026-10-25 00:30:00", []string{
			"2026-10-25 01:00:00 CEST", "2026-10-25 02:00:00 CEST", "2026-10-25 03:00:00 CET", "2026-10-25 04:00:00 CET"}},
		{"new york hourly across the gap", "@hourly", newYork, "2026-03-07 23:30:00", []string{
			"2026-03-08 00:00:00 EST", "2026-03-08 01:00:00 EST", "2026-03-08 03:00:00 EDT", "2026-03-08 04:00:00 EDT"}},
		{"new york hourly across the overlap", "0 * * * *", newYork, "2026-10-31 23:30:00", []string{
			"2026-11-01 00:00:00 EDT", "2026-11-01 01:00:00 EDT", "2026-11-01 02:00:00 EST", "2026-11-01 03:00:00 EST"}},
		// Sub-hour: the gap's fires merge into one at 03:00; the repeated
		// hour pauses the schedule.
		{"berlin quarter-hourly across the gap", "*/15 * * * *", berlin, "2026-03-29 01:40:00", []string{
			"2026-03-29 01:45:00 CET", "2026-03-29 03:00:00 CEST", "2026-03-29 03:15:00 CEST"}},
		{"new york quarter-hourly across the overlap", "*/15 * * * *", newYork, "2026-11-01 05:40:00Z", []string{
			"2026-11-01 01:45:00 EDT", "2026-11-01 02:00:00 EST", "2026-11-01 02:15:00 EST"}},
		// Six fields, with seconds.
		{"berlin seconds across the gap", "*/20 * * * * *", berlin, "2026-03-29 01:59:30", []string{
			"2026-03-29 01:59:40 CET", "2026-03-29 03:00:00 CEST", "2026-03-29 03:00:20 CEST"}},
		{"berlin seconds across the overlap", "*/20 * * * * *", berlin, "2026-10-25 00:59:30Z", []string{
			"2026-10-25 02:59:40 CEST", "2026-10-25 03:00:00 CET", "2026-10-25 03:00:20 CET"}},
		{"new york seconds across the gap", "*/20 * * * * *", newYork, "2026-03-08 01:59:30", []string{
			"2026-03-08 01:59:40 EST", "2026-03-08 03:00:00 EDT", "2026-03-08 03:00:20 EDT"}},
		{"new york seconds across the overlap", "*/20 * * * * *", newYork, "2026-11-01 05:59:30Z", []string{
			"2026-11-01 01:59:40 EDT", "2026-11-01 02:00:00 EST", "2026-11-01 02:00:20 EST"}},
		// A 30-minute transition, and a gap at midnight.
		{"lord howe daily 02:15 in a half-hour gap", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03 12:00:00", []string{
			"2026-10-04 02:30:00 +11", "2026-10-05 02:15:00 +11"}},
		{"lord howe daily 01:45 in a half-hour overlap", "45 1 * * *", "Australia/Lord_Howe", "2026-04-04 12:00:00", []string{
			"2026-04-05 01:45:00 +11", "2026-04-06 01:45:00 +1030"}},
		{"cairo midnight in the gap", "@daily", "Africa/Cairo", "2025-04-23 12:00:00", []string{
			"2025-04-24 00:00:00 EET", "2025-04-25 01:00:00 EEST", "2025-04-26 00:00:00 EEST"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := cronTrigger(t, tc.schedule, tc.tz)
			var got []string
			at := local(t, tc.tz, tc.from)
			for range tc.want {
				next := scheduler.Next(tr, at)
				require.True(t, next.After(at), "Next(%s) = %s is not after it", stamp(at), stamp(next))
				got = append(got, stamp(next))
				at = next
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestNextEveryFollowsElapsedTime checks that @every ignores the wall clock:
// its fires stay one hour apart in UTC across both transitions.
func TestNextEveryFollowsElapsedTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tz, from string
		want     []string
	}{
		{berlin, "2026-03-29 00:30:00", []string{"2026-03-29 01:30:00 CET", "2026-03-29 03:30:00 CEST", "2026-03-29 04:30:00 CEST"}},
		{berlin, "2026-10-25 01:30:00", []string{"2026-10-25 02:30:00 CEST", "2026-10-25 02:30:00 CET", "2026-10-25 03:30:00 CET"}},
		{newYork, "2026-03-08 00:30:00", []string{"2026-03-08 01:30:00 EST", "2026-03-08 03:30:00 EDT", "2026-03-08 04:30:00 EDT"}},
		{newYork, "2026-11-01 00:30:00", []string{"2026-11-01 01:30:00 EDT", "2026-11-01 01:30:00 EST", "2026-11-01 02:30:00 EST"}},
	} {
		tr := cronTrigger(t, "@every 1h", tc.tz)
		at := local(t, tc.tz, tc.from)
		var got []string
		for range tc.want {
			next := scheduler.Next(tr, at)
			require.Equal(t, time.Hour, next.Sub(at))
			got = append(got, stamp(next))
			at = next
		}
		require.Equal(t, tc.want, got, tc.tz)
	}
}

// TestNextInsideTheRepeatedHour checks that a start during the second pass of
// an overlap does not fire the wall times that already fired in the first.
func TestNextInsideTheRepeatedHour(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation(newYork)
	require.NoError(t, err)
	// 01:10 EST, the second 01:10 of 2026-11-01.
	after := time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC).In(loc)
	require.Equal(t, "2026-11-01 01:10:00 EST", stamp(after))

	require.Equal(t, "2026-11-02 01:30:00 EST", stamp(scheduler.Next(cronTrigger(t, "30 1 * * *", newYork), after)))
	require.Equal(t, "2026-11-01 02:00:00 EST", stamp(scheduler.Next(cronTrigger(t, "0 * * * *", newYork), after)))
	require.Equal(t, "2026-11-01 02:00:00 EST", stamp(scheduler.Next(cronTrigger(t, "* * * * * *", newYork), after)))
}

// TestNextNever checks a schedule that never fires.
func TestNextNever(t *testing.T) {
	t.Parallel()
	require.True(t, scheduler.Next(cronTrigger(t, "0 0 30 2 *", berlin), time.Now()).IsZero())
	require.Empty(t, scheduler.Upcoming(cronTrigger(t, "0 0 30 2 *", berlin), time.Now(), 3))
}

// TestRobfigAloneGetsDSTWrong documents why the scheduler evaluates wall-clock
// schedules itself: robfig/cron evaluated in the zone skips the day whose
// 02:30 does not exist.
func TestRobfigAloneGetsDSTWrong(t *testing.T) {
	t.Parallel()
	sched, err := cron.ParseStandard("CRON_TZ=Europe/Berlin 30 2 * * *")
	require.NoError(t, err)
	next := sched.Next(local(t, berlin, "2026-03-28 02:30:00"))
	require.Equal(t, "2026-03-30 02:30:00 CEST", stamp(next), "robfig/cron skips 2026-03-29")
	require.Equal(t, "2026-03-29 03:00:00 CEST", stamp(scheduler.Next(cronTrigger(t, "30 2 * * *", berlin), local(t, berlin, "2026-03-28 02:30:00"))))
}
