package cluster

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/engine"
)

// rateTable holds the shared rate limits, in the store's schema.
const rateTable = "provider_rate_limits"

// RateLimiter keeps the engine's rate budgets (each provider instance's
// and each recipient's) in PostgreSQL, shared by all replicas: N replicas
// together take at most one slot per interval of a key, with bursts of at
// most burst, as one process would. It is a GCRA (a token bucket kept as
// one timestamp per key): each reservation takes the next slot in a single
// UPDATE on the database's clock, so replicas' clocks do not matter. A
// slot reserved by a call that then does not happen (its run was
// interrupted while waiting) is not given back, so under contention a key
// may see fewer calls than allowed, never more.
type RateLimiter struct {
	c     *Cluster
	sql   string
	atSQL string
}

var _ engine.ClockedRateLimiter = (*RateLimiter)(nil)

// RateLimiter returns the shared rate limiter to give the engine (see
// engine.Options.RateLimiter).
func (c *Cluster) RateLimiter() *RateLimiter {
	table := pgx.Identifier{c.opts.Store.Schema(), rateTable}.Sanitize()
	take := `WITH c AS (SELECT clock_timestamp() AS now)
		INSERT INTO ` + table + ` AS r (instance, tat)
		SELECT $1, c.now + make_interval(secs => $2) FROM c
		ON CONFLICT (instance) DO UPDATE
			SET tat = GREATEST(r.tat, (SELECT now FROM c)) + make_interval(secs => $2)
		RETURNING `
	return &RateLimiter{c: c,
		sql:   take + `EXTRACT(EPOCH FROM r.tat - (SELECT now FROM c))::float8 - $3`,
		atSQL: take + `EXTRACT(EPOCH FROM r.tat)::float8 - $3, EXTRACT(EPOCH FROM (SELECT now FROM c))::float8`}
}

// ReserveAt implements engine.ClockedRateLimiter: the slot and the
// database's clock when it was reserved.
func (l *RateLimiter) ReserveAt(ctx context.Context, key string, interval time.Duration, burst int) (slot, now time.Time, err error) {
	secs := interval.Seconds()
	var s, n float64
	if err := l.c.opts.Store.Pool().QueryRow(ctx, l.atSQL, key, secs, float64(max(burst, 1))*secs).Scan(&s, &n); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return epoch(s), epoch(n), nil
}

// epoch converts seconds since 1970 to a time.
func epoch(secs float64) time.Time {
	whole := math.Floor(secs)
	return time.Unix(int64(whole), int64((secs-whole)*1e9))
}

// Reserve implements engine.RateLimiter.
func (l *RateLimiter) Reserve(ctx context.Context, key string, interval time.Duration, burst int) (time.Duration, error) {
	secs := interval.Seconds()
	var ahead float64
	if err := l.c.opts.Store.Pool().QueryRow(ctx, l.sql, key, secs, float64(max(burst, 1))*secs).Scan(&ahead); err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return max(time.Duration(ahead*float64(time.Second)), 0), nil
}
