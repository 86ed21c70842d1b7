package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/engine"
)

// rateTable holds the shared rate limits, in the store's schema.
const rateTable = "provider_rate_limits"

// RateLimiter enforces every provider instance's rate_limit as one budget
// shared by all replicas, kept in PostgreSQL: N replicas together call an
// instance at most Rate times a second with bursts of at most Burst, as one
// process would. It is a GCRA (a token bucket kept as one timestamp): each
// call reserves the next slot in a single UPDATE on the database's clock,
// so replicas' clocks do not matter, and waits until its slot comes. A slot
// reserved by a call that then does not happen (its run was interrupted
// while waiting) is not given back, so under contention the instance may
// see fewer calls than allowed, never more.
type RateLimiter struct {
	c   *Cluster
	sql string
}

var _ engine.RateLimiter = (*RateLimiter)(nil)

// RateLimiter returns the shared rate limiter to give the engine (see
// engine.Options.RateLimiter).
func (c *Cluster) RateLimiter() *RateLimiter {
	table := pgx.Identifier{c.opts.Store.Schema(), rateTable}.Sanitize()
	return &RateLimiter{c: c, sql: `WITH c AS (SELECT clock_timestamp() AS now)
		INSERT INTO ` + table + ` AS r (instance, tat)
		SELECT $1, c.now + make_interval(secs => $2) FROM c
		ON CONFLICT (instance) DO UPDATE
			SET tat = GREATEST(r.tat, (SELECT now FROM c)) + make_interval(secs => $2)
		RETURNING EXTRACT(EPOCH FROM r.tat - (SELECT now FROM c))::float8 - $3`}
}

// Wait implements engine.RateLimiter.
func (l *RateLimiter) Wait(ctx context.Context, instance string) (time.Duration, error) {
	prov, ok := l.c.opts.Project().Providers[instance]
	if !ok || prov.RateLimit == nil || prov.RateLimit.Rate <= 0 {
		return 0, nil
	}
	interval := 1 / prov.RateLimit.Rate
	burst := float64(max(prov.RateLimit.Burst, 1))
	var ahead float64
	if err := l.c.opts.Store.Pool().QueryRow(ctx, l.sql, instance, interval, burst*interval).Scan(&ahead); err != nil {
		return 0, fmt.Errorf("rate limit of %s: %w", instance, err)
	}
	wait := time.Duration(ahead * float64(time.Second))
	if wait <= 0 {
		return 0, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return wait, nil
	case <-ctx.Done():
		return wait, ctx.Err()
	}
}
