package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Bounds of the event inbox (see Waits.AddInboxEvent): an event is kept
// InboxMaxAge at most, and at most InboxMaxEvents of one event type and
// provider instance, the newest. The store trims the inbox every
// InboxTrimEvery events, so it may briefly hold that many more.
const (
	InboxMaxAge    = 15 * time.Minute
	InboxMaxEvents = 1000
	InboxTrimEvery = 64
)

// SignalInboxMax bounds the signals kept for one run (see Waits.KeepSignal):
// a signal beyond it is refused with ErrInboxFull.
const SignalInboxMax = 16

// ErrInboxFull reports a signal refused because its run keeps
// SignalInboxMax signals already, none of them taken yet.
var ErrInboxFull = errors.New("signal inbox full")

// Wait is a step (or one item of it) parked until an event, a signal or its
// deadline: the durable record of a wait or wait_for step. It is pending
// until ResolveWait settles it, exactly once, with its output.
type Wait struct {
	StepKey
	// Deadline is when the wait ends by itself (the wait's time, or the
	// wait_for's timeout).
	Deadline time.Time
	// Event and Instance name the provider event waited for; empty when
	// the step waits for none.
	Event    string
	Instance string
	// MatchKey is the run's side of the event correlation (such as
	// `id="msg-1"`), empty when the wait takes any event of its type to
	// its match; EventWaits looks waits up by it.
	MatchKey string
	// Signal names the signal waited for; empty when none.
	Signal    string
	CreatedAt time.Time
	// Resolved is set once ResolveWait settled the wait; Output is then the
	// step's output and ResolvedAt when it was settled.
	Resolved   bool
	Output     json.RawMessage
	ResolvedAt time.Time
}

// Validate reports an ErrInvalid error unless w can be stored.
func (w Wait) Validate() error {
	if w.RunID == "" || w.StepID == "" {
		return fmt.Errorf("%w: a wait needs a run and a step", ErrInvalid)
	}
	if w.Deadline.IsZero() || w.CreatedAt.IsZero() {
		return fmt.Errorf("%w: a wait needs a deadline and a creation time", ErrInvalid)
	}
	if (w.Event == "") != (w.Instance == "") {
		return fmt.Errorf("%w: a wait for an event needs its provider instance", ErrInvalid)
	}
	return nil
}

// InboxEvent is a provider event kept for wait_for steps that start waiting
// after it arrived.
type InboxEvent struct {
	Event      string
	Instance   string
	Data       json.RawMessage
	ReceivedAt time.Time
}

// Waits is implemented by stores that keep durable waits (both bundled
// stores do); the engine asserts it. ResolveWait is the single point of
// truth that makes a wait end once, whichever process fires its timeout or
// receives its event or signal.
type Waits interface {
	// CreateWait stores w as pending unless a wait of its key exists, and
	// returns the stored one (so a resumed step keeps its first deadline).
	// An unknown run is ErrNotFound.
	CreateWait(ctx context.Context, w Wait) (Wait, error)
	// GetWait returns the wait of key, or ErrNotFound.
	GetWait(ctx context.Context, key StepKey) (Wait, error)
	// ParkRun moves the run from running, under owner, to waiting with
	// reason, if it still has a pending wait; it reports whether it did.
	// false means the wait was resolved meanwhile (or the run moved on):
	// the caller keeps executing.
	ParkRun(ctx context.Context, runID, owner, reason string) (bool, error)
	// ResolveWait settles the pending wait of key with output at at, and
	// moves its run from waiting to queued (owner cleared) in the same
	// transaction. resolved reports whether this call settled it (false:
	// it was settled already, or never existed); requeued whether the run
	// was waiting and is now queued, for the caller to execute it.
	ResolveWait(ctx context.Context, key StepKey, output json.RawMessage, at time.Time) (resolved, requeued bool, err error)
	// EventWaits returns the pending waits for event from instance whose
	// MatchKey is one of keys, through an index: no other wait is read.
	EventWaits(ctx context.Context, event, instance string, keys []string) ([]Wait, error)
	// SignalWaits returns the run's pending waits for signal.
	SignalWaits(ctx context.Context, runID, signal string) ([]Wait, error)
	// PendingWaits returns every pending wait, soonest deadline first, for
	// a host's timers to load when it starts.
	PendingWaits(ctx context.Context) ([]Wait, error)
	// AddInboxEvent keeps ev for wait_for steps that start waiting later,
	// dropping events of its type and instance beyond InboxMaxAge and
	// InboxMaxEvents.
	AddInboxEvent(ctx context.Context, ev InboxEvent) error
	// InboxEvents returns the kept events of event from instance received
	// at or after since, oldest first.
	InboxEvents(ctx context.Context, event, instance string, since time.Time) ([]InboxEvent, error)
	// KeepSignal keeps output, what a wait_for step for signal outputs when
	// the signal ends it, for a step of the run that starts waiting for it
	// later. An unknown run is ErrNotFound; a run that keeps SignalInboxMax
	// signals already is ErrInboxFull.
	KeepSignal(ctx context.Context, runID, signal string, output json.RawMessage, at time.Time) error
	// TakeSignal settles the pending wait of key with the oldest signal kept
	// for signal (KeepSignal) and removes that signal, in one transaction,
	// moving a waiting run to queued as ResolveWait does. resolved is false
	// when no such signal is kept or the wait is not pending; nothing is
	// taken then.
	TakeSignal(ctx context.Context, key StepKey, signal string, at time.Time) (resolved, requeued bool, err error)
	// UseSignalToken records the single use of a signal link's token; it
	// reports false when the token was used before.
	UseSignalToken(ctx context.Context, token, runID string, at time.Time) (bool, error)
}
