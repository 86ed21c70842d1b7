package pgtest

import (
	"context"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// RoundTrips is a pgx tracer (set it as a pool's ConnConfig.Tracer) that
// counts the round trips made with a context from Context: every statement
// sent on its own, BEGIN and COMMIT included, and every batch, whose
// statements travel together. Other work on the pool, such as River's
// polling, is counted apart (Total).
type RoundTrips struct {
	mu    sync.Mutex
	sent  []string
	calls int64
	all   int64
}

var (
	_ pgx.QueryTracer = (*RoundTrips)(nil)
	_ pgx.BatchTracer = (*RoundTrips)(nil)
)

// countedKey marks a context whose round trips a RoundTrips counts.
type countedKey struct{}

// Context returns ctx with its round trips counted by r.
func (r *RoundTrips) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, countedKey{}, r)
}

// Count returns the round trips made with a context from Context so far.
func (r *RoundTrips) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Statements returns the statements of the counted round trips, a
// batch's joined.
func (r *RoundTrips) Statements() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

// Total returns every round trip the pool made so far, whatever its
// context.
func (r *RoundTrips) Total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all
}

// Sent returns how many of the counted round trips sent a statement that
// contains substr (case-insensitive), a batch counting once.
func (r *RoundTrips) Sent(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, sql := range r.sent {
		if strings.Contains(strings.ToLower(sql), strings.ToLower(substr)) {
			n++
		}
	}
	return n
}

// count records one round trip of sql.
func (r *RoundTrips) count(ctx context.Context, sql string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all++
	if ctx.Value(countedKey{}) != r {
		return
	}
	r.calls++
	r.sent = append(r.sent, sql)
}

// TraceQueryStart counts a statement sent on its own.
func (r *RoundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.count(ctx, data.SQL)
	return ctx
}

// TraceQueryEnd does nothing.
func (r *RoundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts a batch, with its statements.
func (r *RoundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	var sql []string
	if data.Batch != nil {
		for _, q := range data.Batch.QueuedQueries {
			sql = append(sql, q.SQL)
		}
	}
	r.count(ctx, strings.Join(sql, ";\n"))
	return ctx
}

// TraceBatchQuery does nothing: the batch was counted.
func (r *RoundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd does nothing.
func (r *RoundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
