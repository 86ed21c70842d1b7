package engine

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/heraldhq/herald/internal/config"
)

// limiters holds one token bucket per provider instance that declares a
// rate_limit. The host enforces it, so every workflow of the process shares
// the instance's budget.
type limiters map[string]*rate.Limiter

func newLimiters(p *config.Project) limiters {
	l := limiters{}
	for name, prov := range p.Providers {
		if rl := prov.RateLimit; rl != nil && rl.Rate > 0 {
			burst := rl.Burst
			if burst < 1 {
				burst = 1
			}
			l[name] = rate.NewLimiter(rate.Limit(rl.Rate), burst)
		}
	}
	return l
}

// wait blocks until instance may be called and reports how long it waited.
func (l limiters) wait(ctx context.Context, instance string) (time.Duration, error) {
	lim := l[instance]
	if lim == nil {
		return 0, nil
	}
	start := time.Now()
	if err := lim.Wait(ctx); err != nil {
		return time.Since(start), err
	}
	return time.Since(start), nil
}
