package engine

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// backoff returns the wait after failed attempt n (from 1) of a step under
// policy p: InitialInterval grown by Multiplier per attempt, capped at
// MaxInterval, with "equal jitter" (half fixed, half random) so retries of
// many runs spread out while none comes back sooner than half the interval.
func backoff(p config.Retry, n int) time.Duration {
	initial := p.InitialInterval
	if initial <= 0 {
		initial = config.DefaultInitialInterval
	}
	maxWait := p.MaxInterval
	if maxWait <= 0 {
		maxWait = config.DefaultMaxInterval
	}
	mult := p.Multiplier
	if mult < 1 {
		mult = config.DefaultMultiplier
	}
	d := float64(initial) * math.Pow(mult, float64(n-1))
	if d > float64(maxWait) {
		d = float64(maxWait)
	}
	half := d / 2
	return time.Duration(half + rand.Float64()*half)
}
