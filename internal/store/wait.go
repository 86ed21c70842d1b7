package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/jsonvalid"
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

// Validate reports an ErrInvalid error unless ev can be kept: it needs an
// event type and a time, and its data, when set, must be JSON.
func (ev InboxEvent) Validate() error {
	if ev.Event == "" || ev.ReceivedAt.IsZero() {
		return fmt.Errorf("%w: an event type and a time are required", ErrInvalid)
	}
	if len(ev.Data) > 0 && !jsonvalid.Valid(ev.Data) {
		return fmt.Errorf("%w: an inbox event's data is not valid JSON", ErrInvalid)
	}
	return nil
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
	// SettleWaits applies settlements in one transaction, in order, each
	// as of at, and answers each with its Settled (same index). It is how
	// many resolutions, of many callers, share one commit. An invalid
	// settlement fails the call before anything is written; a failed
	// transaction fails it whole, with nothing written.
	SettleWaits(ctx context.Context, settlements []Settlement, at time.Time) ([]Settled, error)
}

// CommitGrouper is implemented by a store whose writes of concurrent
// callers share their commits already (a group commit); GroupsCommits
// reports whether they do. The engine batches its wait settlements itself
// for a store that does not.
type CommitGrouper interface {
	GroupsCommits() bool
}

// Settlement is one change SettleWaits makes: either the pending wait of Key
// ends with Output (as ResolveWait), or, when Delivery is set, a provider
// event is offered to the waits for it.
type Settlement struct {
	Key    StepKey
	Output json.RawMessage
	// Delivery, when set, replaces Key and Output.
	Delivery *EventDelivery
}

// EventDelivery is a provider event offered to the pending waits for it in
// the settling transaction: the waits EventWaits would return for Event,
// Instance and Keys are read there, and each that Settle accepts ends with
// Output at once; the others are returned to the caller to test (a CEL
// match over its run). When no wait at all is pending for it, the event is
// kept in the inbox (AddInboxEvent with Data) in the same transaction.
type EventDelivery struct {
	Event    string
	Instance string
	Keys     []string
	// Output is what a wait the event ends outputs.
	Output json.RawMessage
	// Data is the event, as kept in the inbox.
	Data json.RawMessage
	// Settle reports whether a candidate ends with the event without a
	// test of its own (its match is only the correlation its MatchKey
	// met). It runs inside the store's write and must be quick and touch
	// no store; nil settles none.
	Settle func(Wait) bool
}

// Settled is the answer to one Settlement.
type Settled struct {
	// Resolved and Requeued answer a Key settlement as ResolveWait's do.
	Resolved, Requeued bool
	// Ended are the waits a delivery ended, each with whether its run went
	// back to queued.
	Ended []EndedWait
	// Candidates are the pending waits a delivery met that Settle did not
	// accept, for the caller to test and resolve.
	Candidates []Wait
	// Kept reports that a delivery met no pending wait and its event was
	// kept in the inbox.
	Kept bool
}

// ApplySettlements is the loop of every store's SettleWaits inside its
// transaction: each settlement in order, a delivery through deliver and a
// key through resolve, stopping at the first error.
func ApplySettlements(settlements []Settlement, deliver func(*EventDelivery) (Settled, error),
	resolve func(StepKey, json.RawMessage) (resolved, requeued bool, err error)) ([]Settled, error) {
	out := make([]Settled, len(settlements))
	for i, st := range settlements {
		var err error
		if st.Delivery != nil {
			out[i], err = deliver(st.Delivery)
		} else {
			out[i].Resolved, out[i].Requeued, err = resolve(st.Key, st.Output)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SettleCandidates is the part of a delivery every store shares once it
// read the pending candidates (at least one; a store keeps the event in
// the inbox when there is none): each candidate d.Settle accepts ends with
// resolve, the others are returned for the caller to test.
func SettleCandidates(d *EventDelivery, cands []Wait, resolve func(StepKey) (resolved, requeued bool, err error)) (Settled, error) {
	var res Settled
	for _, w := range cands {
		if d.Settle == nil || !d.Settle(w) {
			res.Candidates = append(res.Candidates, w)
			continue
		}
		resolved, requeued, err := resolve(w.StepKey)
		if err != nil {
			return res, err
		}
		if resolved {
			res.Ended = append(res.Ended, EndedWait{Key: w.StepKey, Requeued: requeued})
		}
	}
	return res, nil
}

// EndedWait is a wait a delivery ended.
type EndedWait struct {
	Key      StepKey
	Requeued bool
}

// ValidateSettlements reports an ErrInvalid error for a settlement that
// cannot be applied: an output or event that is not JSON, or a delivery
// without an event type.
func ValidateSettlements(settlements []Settlement, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: settling waits needs a time", ErrInvalid)
	}
	for _, st := range settlements {
		out := st.Output
		if d := st.Delivery; d != nil {
			if d.Event == "" || (len(d.Data) > 0 && !jsonvalid.Valid(d.Data)) {
				return fmt.Errorf("%w: a delivery needs an event type and JSON data", ErrInvalid)
			}
			out = d.Output
		}
		if len(out) > 0 && !jsonvalid.Valid(out) {
			return fmt.Errorf("%w: a wait's output is not valid JSON", ErrInvalid)
		}
	}
	return nil
}
