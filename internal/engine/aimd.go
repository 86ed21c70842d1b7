package engine

import (
	"sync"
	"time"
)

// AIMD tuning: a rate_limited answer halves an instance's rate (no lower
// than 1/64 of its limit, and at most once per aimdHold, so a burst of
// 429s from calls already in flight counts once); the rate then climbs
// back by aimdStep of the limit each second until it is whole again
// (from half, in ten seconds).
const (
	aimdFloor = 1.0 / 64
	aimdStep  = 0.05
	aimdHold  = time.Second
)

// aimd is the share of an instance's limit that calls may use now:
// additive increase, multiplicative decrease, as TCP shares a link.
type aimd struct {
	mu sync.Mutex
	// factor was the share at changed; it grows by aimdStep a second
	// from there.
	factor  float64
	changed time.Time
}

// share returns the share of the limit allowed at now, in (0, 1].
func (a *aimd) share(now time.Time) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.shareLocked(now)
}

func (a *aimd) shareLocked(now time.Time) float64 {
	if a.factor == 0 || a.changed.IsZero() {
		return 1
	}
	f := a.factor + aimdStep*now.Sub(a.changed).Seconds()
	if f >= 1 {
		a.factor, a.changed = 0, time.Time{}
		return 1
	}
	return f
}

// decrease halves the share after a rate_limited answer at now and
// reports whether it did (not within aimdHold of the last decrease).
func (a *aimd) decrease(now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.changed.IsZero() && now.Sub(a.changed) < aimdHold {
		return false
	}
	a.factor = max(a.shareLocked(now)/2, aimdFloor)
	a.changed = now
	return true
}
