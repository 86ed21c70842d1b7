package sendwindow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/scheduler/clocktest"
	"github.com/heraldhq/herald/internal/sendwindow"
)

func load(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestWeekdayHoursInTheRecipientsZone(t *testing.T) {
	t.Parallel()
	w, err := sendwindow.Parse("MON-FRI", "08:00-21:00")
	require.NoError(t, err)
	berlin, tokyo := load(t, "Europe/Berlin"), load(t, "Asia/Tokyo")
	// Friday 2026-12-04 20:30 UTC: 21:30 in Berlin (closed), Saturday
	// 05:30 in Tokyo (closed).
	clock := clocktest.New(time.Date(2026, 12, 4, 20, 30, 0, 0, time.UTC))
	now := clock.Now()
	require.False(t, w.Contains(now, berlin))
	require.Equal(t, time.Date(2026, 12, 7, 8, 0, 0, 0, berlin), w.Next(now, berlin), "Berlin: Monday 08:00")
	require.Equal(t, time.Date(2026, 12, 7, 8, 0, 0, 0, tokyo), w.Next(now, tokyo), "Tokyo: Monday 08:00 there")

	clock.Set(time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)) // Monday 08:00 in Berlin
	require.True(t, w.Contains(clock.Now(), berlin))
	require.Equal(t, clock.Now(), w.Next(clock.Now(), berlin), "inside: now")
	clock.Advance(13*time.Hour - time.Second) // 20:59:59
	require.True(t, w.Contains(clock.Now(), berlin))
	clock.Advance(time.Second) // 21:00: closed
	require.False(t, w.Contains(clock.Now(), berlin))
	require.Equal(t, time.Date(2026, 12, 8, 8, 0, 0, 0, berlin), w.Next(clock.Now(), berlin))
}

func TestOvernightAndWrappingDays(t *testing.T) {
	t.Parallel()
	w, err := sendwindow.Parse("FRI-MON", "22:00-06:00")
	require.NoError(t, err)
	require.Equal(t, [7]bool{true, true, false, false, false, true, true}, w.Days)
	utc := time.UTC
	require.True(t, w.Contains(time.Date(2026, 12, 8, 5, 59, 0, 0, utc), utc), "Tuesday 05:59 is Monday night's window")
	require.False(t, w.Contains(time.Date(2026, 12, 8, 22, 0, 0, 0, utc), utc), "Tuesday 22:00 does not open")
	require.Equal(t, time.Date(2026, 12, 11, 22, 0, 0, 0, utc), w.Next(time.Date(2026, 12, 8, 6, 0, 0, 0, utc), utc))
}

func TestOpeningInASpringForwardGapOpensAtTheNextValidInstant(t *testing.T) {
	t.Parallel()
	berlin := load(t, "Europe/Berlin")
	w, err := sendwindow.Parse("SUN", "02:30-05:00")
	require.NoError(t, err)
	// Sunday 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
	clock := clocktest.New(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC))
	next := w.Next(clock.Now(), berlin)
	require.Equal(t, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), next.UTC(), "03:00 CEST, the first valid instant after 02:30 fails to exist")
	require.Equal(t, "03:00", next.In(berlin).Format("15:04"))
	clock.Set(next)
	require.True(t, w.Contains(clock.Now(), berlin))
}

func TestOpeningInAFallBackOverlapOpensAtTheFirst(t *testing.T) {
	t.Parallel()
	berlin := load(t, "Europe/Berlin")
	w, err := sendwindow.Parse("SUN", "02:30-05:00")
	require.NoError(t, err)
	// Sunday 2026-10-25: 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET).
	next := w.Next(time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), berlin)
	require.Equal(t, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), next.UTC())
}

func TestAWindowInsideAGapSkipsThatDay(t *testing.T) {
	t.Parallel()
	berlin := load(t, "Europe/Berlin")
	w, err := sendwindow.Parse("SUN", "02:15-02:45")
	require.NoError(t, err)
	next := w.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), berlin)
	require.Equal(t, time.Date(2026, 4, 5, 2, 15, 0, 0, berlin), next, "02:15-02:45 does not exist on 2026-03-29 in Berlin")
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ days, hours, want string }{
		{"MON-FRY", "08:00-21:00", `days "MON-FRY": unknown day "FRY": use MON, TUE, WED, THU, FRI, SAT, SUN, ranges such as MON-FRI, or *`},
		{"*", "8-21", `hours "8-21": "8" is not a time of day HH:MM`},
		{"*", "08:00", `hours "08:00" must be HH:MM-HH:MM, such as 08:00-21:00`},
		{"*", "24:00-06:00", `hours "24:00-06:00": "24:00" is not a time of day HH:MM`},
		{"*", "09:00-09:00", `hours "09:00-09:00" open and close at the same time; use 00:00-24:00 for all day`},
	} {
		_, err := sendwindow.Parse(c.days, c.hours)
		require.EqualError(t, err, c.want)
	}
	w, err := sendwindow.Parse("*", "00:00-24:00")
	require.NoError(t, err)
	require.True(t, w.Contains(time.Date(2026, 12, 6, 23, 59, 59, 0, time.UTC), time.UTC))
}

func FuzzParse(f *testing.F) {
	f.Add("MON-FRI", "08:00-21:00")
	f.Add("FRI-MON,WED", "22:00-06:00")
	f.Add("SUN", "02:30-02:45")
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, days, hours string) {
		w, err := sendwindow.Parse(days, hours)
		if err != nil {
			return
		}
		for _, loc := range []*time.Location{time.UTC, berlin} {
			now := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
			next := w.Next(now, loc)
			if next.Before(now) {
				t.Fatalf("%s in %s: next opening %s before now", w.Text, loc, next)
			}
			if !w.Contains(next, loc) {
				t.Fatalf("%s in %s: not open at its next opening %s", w.Text, loc, next)
			}
		}
	})
}
