package scheduler

import (
	"time"

	"github.com/robfig/cron/v3"

	"github.com/heraldhq/herald/internal/config"
)

// maxWallSteps bounds the wall times one next call examines. Only the second
// pass of a fall-back overlap needs more than one: an hour of a schedule with
// seconds is 3,600 steps.
const maxWallSteps = 100_000

// schedule is a trigger's cron schedule compiled for repeated use.
type schedule struct {
	// loc is the timezone fire times are computed and returned in.
	loc *time.Location
	// wall, when set, is a wall-clock schedule evaluated on the DST-free
	// clock (UTC) that carries local wall times.
	wall *cron.SpecSchedule
	// every, when positive, is the delay of an @every schedule.
	every time.Duration
	// other is any other cron.Schedule, asked directly.
	other cron.Schedule
}

// wallKind says how a wall time maps to an instant.
type wallKind int

const (
	// wallOnce: the wall time happens exactly once.
	wallOnce wallKind = iota
	// wallGap: the wall time falls in a spring-forward gap and maps to the
	// first instant after it.
	wallGap
	// wallOverlap: the wall time happens twice and maps to the first.
	wallOverlap
)

// fireInfo tells how a fire time came about, for the notes of Upcoming.
type fireInfo struct {
	kind wallKind
	// wall is the scheduled wall time, as fields of a UTC time.
	wall time.Time
}

// compile prepares t's schedule. The trigger's Location decides the timezone
// (UTC when unset), unless the parsed schedule names its own.
func compile(t *config.Trigger) schedule {
	s := schedule{loc: t.Location}
	if s.loc == nil {
		s.loc = time.UTC
	}
	switch c := t.Cron.(type) {
	case *cron.SpecSchedule:
		w := *c
		if w.Location != nil && w.Location != time.Local {
			s.loc = w.Location
		}
		w.Location = time.UTC
		s.wall = &w
	case cron.ConstantDelaySchedule:
		s.every = c.Delay
	case *cron.ConstantDelaySchedule:
		s.every = c.Delay
	default:
		s.other = c
	}
	return s
}

// next returns the first fire strictly after after, in s.loc, or the zero
// time when the schedule never fires again.
func (s *schedule) next(after time.Time) (time.Time, fireInfo) {
	switch {
	case s.wall != nil:
		w := wallOf(after.In(s.loc))
		for range maxWallSteps {
			w = s.wall.Next(w)
			if w.IsZero() {
				return time.Time{}, fireInfo{}
			}
			at, kind := resolve(w, s.loc)
			if at.After(after) {
				return at, fireInfo{kind: kind, wall: w}
			}
		}
		return time.Time{}, fireInfo{}
	case s.every > 0:
		return cron.ConstantDelaySchedule{Delay: s.every}.Next(after).In(s.loc), fireInfo{}
	case s.other != nil:
		at := s.other.Next(after.In(s.loc))
		if at.IsZero() {
			return at, fireInfo{}
		}
		return at.In(s.loc), fireInfo{}
	}
	return time.Time{}, fireInfo{}
}

// anchored reports whether the fires of s are fixed in time, independent of
// where enumeration starts. Wall-clock schedules are; an @every schedule is a
// chain, each fire Delay after the previous one.
func (s *schedule) anchored() bool { return s.wall != nil }

// wallOf returns the wall-clock fields of t as a UTC time.
func wallOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

// resolve maps wall, the local wall time of loc written as a UTC time, to an
// instant: the only one when the wall time happens once, the earlier when it
// happens twice (a fall-back overlap), and the end of the gap when it does
// not happen (a spring-forward gap).
func resolve(wall time.Time, loc *time.Location) (time.Time, wallKind) {
	if loc == time.UTC {
		return wall, wallOnce
	}
	ws, ns := wall.Unix(), int64(wall.Nanosecond())
	_, probeOff := time.Unix(ws, 0).In(loc).Zone()
	guess := time.Unix(ws-int64(probeOff), ns).In(loc)
	_, off := guess.Zone()
	start, end := guess.ZoneBounds()
	const day = 24 * 60 * 60
	if off == probeOff &&
		(start.IsZero() || guess.Unix()-start.Unix() > day) &&
		(end.IsZero() || end.Unix()-guess.Unix() > day) {
		return guess, wallOnce
	}

	// Near a transition: try the offsets of this zone and its neighbours.
	offsets := []int{off}
	if !start.IsZero() {
		_, o := start.Add(-time.Second).Zone()
		offsets = append(offsets, o)
	}
	if !end.IsZero() {
		_, o := end.Zone()
		offsets = append(offsets, o)
	}
	var best time.Time
	valid := 0
	seen := map[int]bool{}
	for _, o := range offsets {
		if seen[o] {
			continue
		}
		seen[o] = true
		at := time.Unix(ws-int64(o), ns).In(loc)
		if _, got := at.Zone(); got != o {
			continue
		}
		valid++
		if best.IsZero() || at.Before(best) {
			best = at
		}
	}
	switch {
	case valid == 1:
		return best, wallOnce
	case valid > 1:
		return best, wallOverlap
	}

	// A gap: find the transition whose skipped wall times contain wall.
	for _, tr := range []time.Time{start, end} {
		if tr.IsZero() {
			continue
		}
		_, before := tr.Add(-time.Second).Zone()
		_, after := tr.Zone()
		if after > before && tr.Unix()+int64(before) <= ws && ws < tr.Unix()+int64(after) {
			return tr.In(loc), wallGap
		}
	}
	// Not reached for real zones; fall back to Go's own choice.
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), int(ns), loc), wallGap
}
