package engine

import (
	"context"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// callScope is, in one allocation, what a plugin call's context was made
// of in three: the Exchange the call fills, and
// sdk.WithExchange(context.WithoutCancel(parent), &ex) — parent's values,
// the Exchange under sdk's key, and neither parent's cancellation nor its
// cause.
type callScope struct {
	ex     sdk.Exchange
	parent context.Context
}

func (*callScope) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*callScope) Done() <-chan struct{}       { return nil }
func (*callScope) Err() error                  { return nil }

// Value is parent's value of key, but the Exchange for sdk's key. Parent's
// cause does not show: context.Cause reads none while Err is nil, and the
// context package asks no context with a nil Done for its cancelCtx.
func (c *callScope) Value(key any) any {
	if key == exchangeKey {
		return &c.ex
	}
	return c.parent.Value(key)
}

// exchangeKey is the key sdk.WithExchange stores the Exchange under, not
// exported: it is learned once by asking a context that notes the key it
// is asked for (TestCallScopeIsWhatItReplaces holds it to it).
var exchangeKey = keyOf(func(c context.Context) { sdk.ExchangeFrom(c) })

// keyOf returns the key ask passes to its context's Value.
func keyOf(ask func(context.Context)) any {
	c := &keyCatcher{Context: context.Background()}
	ask(c)
	return c.key
}

// keyCatcher is a context that notes the key its Value was asked for.
type keyCatcher struct {
	context.Context
	key any
}

func (c *keyCatcher) Value(key any) any {
	c.key = key
	return nil
}
