// Package sendwindow computes send windows, such as MON-FRI 08:00-21:00 in
// a recipient's timezone: whether an instant is inside one, and when it
// next opens. It is pure computation on the instants it is given (callers
// pass their clock's now), handling daylight saving time the way the
// scheduler does: a window that would open inside a spring-forward gap
// opens at the first valid instant after it, and one that opens inside a
// fall-back overlap opens at the first of the two.
//
// It does not wait, skip or store anything; the engine decides what a
// send outside its window does.
package sendwindow

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a parsed send window: the weekdays it opens on and the local
// time of day it is open, from Open up to (not including) Close, in
// minutes after midnight. Close ≤ Open makes an overnight window that
// closes on the next day.
type Window struct {
	Days        [7]bool
	Open, Close int
	// Text is the window as written, for messages.
	Text string
}

var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// Parse parses days such as "MON-FRI", "SAT,SUN", "FRI-MON" or "*" and
// hours such as "08:00-21:00", "00:00-24:00" or "22:00-06:00"
// (overnight).
func Parse(days, hours string) (Window, error) {
	w := Window{Text: strings.TrimSpace(days) + " " + strings.TrimSpace(hours)}
	if err := parseDays(&w, days); err != nil {
		return Window{}, err
	}
	openText, closeText, ok := strings.Cut(hours, "-")
	if !ok {
		return Window{}, fmt.Errorf("hours %q must be HH:MM-HH:MM, such as 08:00-21:00", hours)
	}
	var err error
	if w.Open, err = clock(openText, false); err != nil {
		return Window{}, fmt.Errorf("hours %q: %w", hours, err)
	}
	if w.Close, err = clock(closeText, true); err != nil {
		return Window{}, fmt.Errorf("hours %q: %w", hours, err)
	}
	if w.Open == w.Close {
		return Window{}, fmt.Errorf("hours %q open and close at the same time; use 00:00-24:00 for all day", hours)
	}
	return w, nil
}

func parseDays(w *Window, days string) error {
	days = strings.ToUpper(strings.TrimSpace(days))
	if days == "*" || days == "ALL" {
		for i := range w.Days {
			w.Days[i] = true
		}
		return nil
	}
	for part := range strings.SplitSeq(days, ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, ok := dayIndex(from)
		if !ok {
			return fmt.Errorf("days %q: unknown day %q: use MON, TUE, WED, THU, FRI, SAT, SUN, ranges such as MON-FRI, or *", days, from)
		}
		b := a
		if isRange {
			if b, ok = dayIndex(to); !ok {
				return fmt.Errorf("days %q: unknown day %q: use MON, TUE, WED, THU, FRI, SAT, SUN, ranges such as MON-FRI, or *", days, to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

func dayIndex(s string) (int, bool) {
	for i, n := range dayNames {
		if strings.TrimSpace(s) == n {
			return i, true
		}
	}
	return 0, false
}

// clock parses HH:MM into minutes after midnight; 24:00 only as a close.
func clock(s string, isClose bool) (int, error) {
	hText, mText, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, herr := strconv.Atoi(hText)
	m, merr := strconv.Atoi(mText)
	if !ok || herr != nil || merr != nil || len(mText) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m != 0 || !isClose)) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", strings.TrimSpace(s))
	}
	return h*60 + m, nil
}

// overnight reports whether the window closes on the day after it opens.
func (w Window) overnight() bool { return w.Close <= w.Open }

// Contains reports whether t is inside the window in loc.
func (w Window) Contains(t time.Time, loc *time.Location) bool {
	local := t.In(loc)
	day := int(local.Weekday())
	minute := local.Hour()*60 + local.Minute()
	if !w.overnight() {
		return w.Days[day] && minute >= w.Open && minute < w.Close
	}
	return (w.Days[day] && minute >= w.Open) || (w.Days[(day+6)%7] && minute < w.Close)
}

// Next returns t when it is inside the window in loc, or else the instant
// the window next opens.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if w.Contains(t, loc) {
		return t
	}
	local := t.In(loc)
	for i := 0; i <= 15; i++ {
		y, m, d := local.AddDate(0, 0, i).Date()
		day := time.Date(y, m, d, 12, 0, 0, 0, loc)
		if !w.Days[int(day.Weekday())] {
			continue
		}
		// A window lying wholly inside a spring-forward gap does not
		// open that day.
		if open := wallClock(y, m, d, w.Open, loc); !open.Before(t) && w.Contains(open, loc) {
			return open
		}
	}
	// A window with no day at all never opens; Parse does not make one.
	return time.Time{}
}

// wallClock returns the first instant at which the local clock in loc
// reads minute on the date: inside a spring-forward gap that is the end
// of the gap, inside a fall-back overlap the first of the two.
func wallClock(y int, m time.Month, d, minute int, loc *time.Location) time.Time {
	h, mi := minute/60, minute%60
	t := time.Date(y, m, d, h, mi, 0, 0, loc)
	if t.Hour() != h%24 || t.Minute() != mi {
		// In a gap: Go moved the time by the offset change. The first
		// valid instant after the gap is the transition itself.
		lo, hi := t.Add(-3*time.Hour), t
		_, hiOff := hi.Zone()
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, off := mid.Zone(); off == hiOff {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi.Truncate(time.Second)
	}
	if earlier := t.Add(-time.Hour); earlier.Hour() == t.Hour() && earlier.Minute() == t.Minute() {
		return earlier
	}
	return t
}
