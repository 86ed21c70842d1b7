package scheduler

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// Fire is one upcoming fire of a trigger.
type Fire struct {
	// Time is the instant of the fire, in the trigger's timezone.
	Time time.Time
	// Note explains how daylight saving shaped this fire, or that the UTC
	// offset changed since the previous one; empty when nothing did.
	Note string
}

// Next returns the first fire of the cron trigger t strictly after after, in
// the trigger's timezone, following the package's daylight-saving rules. It
// returns the zero time when the schedule never fires again (such as
// "0 0 30 2 *").
func Next(t *config.Trigger, after time.Time) time.Time {
	s := compile(t)
	at, _ := s.next(after)
	return at
}

// Upcoming returns the next n fires of the cron trigger t after from, each
// with a note when daylight saving moved or merged it, or when the UTC offset
// changes between it and the previous fire (or from, for the first). It
// returns fewer when the schedule stops firing.
func Upcoming(t *config.Trigger, from time.Time, n int) []Fire {
	s := compile(t)
	var out []Fire
	prev := from.In(s.loc)
	for len(out) < n {
		at, info := s.next(prev)
		if at.IsZero() {
			break
		}
		out = append(out, Fire{Time: at, Note: s.note(prev, at, info, len(out) == 0)})
		prev = at
	}
	return out
}

// note explains the fire at, which follows prev.
func (s *schedule) note(prev, at time.Time, info fireInfo, first bool) string {
	switch info.kind {
	case wallGap:
		return s.gapNote(at, info.wall)
	case wallOverlap:
		name, _ := at.Zone()
		return fmt.Sprintf("DST overlap: %s happens twice; fires once, at the first (%s)",
			clockText(info.wall, info.wall.Second() != 0), name)
	}
	prevName, prevOff := prev.Zone()
	name, off := at.Zone()
	if prevOff == off {
		return ""
	}
	when := "between this fire and the previous one"
	if first {
		when = "before this fire"
	}
	switch {
	case !prev.IsDST() && at.IsDST():
		return "DST starts " + when
	case prev.IsDST() && !at.IsDST():
		return "DST ends " + when
	}
	return fmt.Sprintf("UTC offset changes from %s (%s) to %s (%s) %s",
		prev.Format("-07:00"), prevName, at.Format("-07:00"), name, when)
}

// gapNote explains a fire moved out of a spring-forward gap to at, the end
// of the gap. Later wall times of the same gap, and a fire scheduled at the
// end of the gap itself, merge into it.
func (s *schedule) gapNote(at, wall time.Time) string {
	last, merged := wall, false
	for w := s.wall.Next(wall); !w.IsZero(); w = s.wall.Next(w) {
		got, kind := resolve(w, s.loc)
		if !got.Equal(at) {
			break
		}
		merged = true
		if kind == wallGap {
			last = w
		}
	}
	name, _ := at.Zone()
	secs := wall.Second() != 0 || last.Second() != 0 || at.Second() != 0
	from, to, end := clockText(wall, secs), clockText(last, secs), clockText(at, secs)
	switch {
	case !last.Equal(wall):
		return fmt.Sprintf("DST gap: %s to %s do not exist; fires once, at %s %s", from, to, end, name)
	case merged:
		return fmt.Sprintf("DST gap: %s does not exist; fires once, at %s %s", from, end, name)
	}
	return fmt.Sprintf("DST gap: %s does not exist; fires at %s %s", from, end, name)
}

// clockText writes the clock time of t as 15:04, or as 15:04:05 when secs is
// set.
func clockText(t time.Time, secs bool) string {
	if secs {
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}
