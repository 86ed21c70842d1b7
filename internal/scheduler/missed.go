package scheduler

import (
	"time"
)

// countLimit caps how many missed fires are counted one by one for the log
// and the Observer. Beyond it the count is reported as a lower bound.
const countLimit = 10_000

// missedFires describes the fires of a schedule scheduled in [from, to].
type missedFires struct {
	// kept are the newest fires asked for, oldest first.
	kept []time.Time
	// total is the number of fires in [from, to]; a lower bound unless exact.
	total int
	exact bool
	// next is the first fire after to; zero when there is none.
	next time.Time
}

// dropped returns how many fires of m are not kept.
func (m missedFires) dropped() int { return m.total - len(m.kept) }

// missed returns the fires of s in [from, to] (from is a fire, usually the
// stored next fire), keeping the newest keep of them, with their count and
// the fire that follows. Anchored schedules search back from to in growing
// windows, so a long downtime costs about as much as a short one.
func (s *schedule) missed(from, to time.Time, keep int) missedFires {
	from, to = from.In(s.loc), to.In(s.loc)
	if to.Before(from) {
		return missedFires{exact: true, next: from}
	}
	switch {
	case s.every > 0:
		return s.missedChainDelay(from, to, keep)
	case s.anchored():
		return s.missedAnchored(from, to, keep)
	default:
		return s.missedChain(from, to, keep)
	}
}

// missedChainDelay handles @every: the fires are from, from+D, from+2D, ...
func (s *schedule) missedChainDelay(from, to time.Time, keep int) missedFires {
	n := int64(to.Sub(from)/s.every) + 1
	k := min(int64(keep), n)
	m := missedFires{total: int(n), exact: true}
	for i := n - k; i < n; i++ {
		m.kept = append(m.kept, from.Add(time.Duration(i)*s.every))
	}
	m.next = from.Add(time.Duration(n) * s.every)
	return m
}

// missedAnchored handles wall-clock schedules, whose fires do not depend on
// where the enumeration starts.
func (s *schedule) missedAnchored(from, to time.Time, keep int) missedFires {
	var window []time.Time
	lo := to.Add(time.Nanosecond) // keep == 0: count everything up to to
	if keep > 0 {
		for span := time.Second; ; span *= 4 {
			lo = to.Add(-span)
			if lo.Before(from) {
				lo = from
			}
			window = s.between(lo, to)
			if len(window) >= keep || !lo.After(from) {
				break
			}
		}
	}
	older, exact := s.count(from, lo, countLimit)
	m := missedFires{
		kept:  window[max(0, len(window)-keep):],
		total: older + len(window),
		exact: exact,
	}
	m.next, _ = s.next(to)
	return m
}

// missedChain handles any other schedule by walking its chain from from.
// Past countLimit fires it gives up and resumes after to.
func (s *schedule) missedChain(from, to time.Time, keep int) missedFires {
	m := missedFires{exact: true}
	f := from
	for !f.IsZero() && !f.After(to) {
		if m.total == countLimit {
			m.exact = false
			m.next, _ = s.next(to)
			return m
		}
		m.total++
		m.kept = append(m.kept, f)
		if len(m.kept) > keep {
			m.kept = m.kept[1:]
		}
		f, _ = s.next(f)
	}
	m.next = f
	return m
}

// between returns the fires of an anchored schedule in [lo, hi], in order.
func (s *schedule) between(lo, hi time.Time) []time.Time {
	var out []time.Time
	for f, _ := s.next(lo.Add(-time.Nanosecond)); !f.IsZero() && !f.After(hi); f, _ = s.next(f) {
		out = append(out, f)
	}
	return out
}

// count returns the number of fires of an anchored schedule in [lo, before),
// up to limit, and whether that is the exact number.
func (s *schedule) count(lo, before time.Time, limit int) (int, bool) {
	n := 0
	for f, _ := s.next(lo.Add(-time.Nanosecond)); !f.IsZero() && f.Before(before); f, _ = s.next(f) {
		if n == limit {
			return n, false
		}
		n++
	}
	return n, true
}
