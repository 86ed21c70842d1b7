package engine

import (
	"context"
	"time"
)

// RateLimiter enforces the rate_limit of provider instances for an Engine
// whose Options set one; without it each Engine keeps in-process token
// buckets. The scale-out host shares one budget per instance across its
// replicas this way.
type RateLimiter interface {
	// Wait blocks until instance may be called once more and reports how
	// long it waited. An instance without a rate_limit returns at once. An
	// error (ctx ended) means the call must not be made now.
	Wait(ctx context.Context, instance string) (time.Duration, error)
}

// rateWait waits for instance's rate limit, shared or in-process.
func (x *execution) rateWait(ctx context.Context, instance string) (time.Duration, error) {
	if l := x.e.opts.RateLimiter; l != nil {
		return l.Wait(ctx, instance)
	}
	return x.st.limiters.wait(ctx, instance)
}
