package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Deliveries is the index of sent messages that receive delivery receipts
// (SPEC §10): a message, named by the provider instance that sent it and its
// id there, points at the step record (and for_each item) whose output named
// it, and keeps the best delivery status reported for it so far.
type Deliveries interface {
	// IndexMessage binds the message of d (Provider, MessageID) to d's step
	// key and the event type that reports its delivery, with no status yet.
	// Binding a message again to the same step is a no-op that keeps its
	// status; binding it to another step moves it there with no status (a
	// provider that reuses an id). An unknown run is ErrNotFound.
	IndexMessage(ctx context.Context, d Delivery) error
	// RecordReceipt applies a receipt reported by event eventType for a
	// message of provider. It returns the delivery as stored afterwards and
	// whether the receipt changed it: a status is replaced only by one of a
	// higher rank (DeliveryRank), so a late or repeated receipt never lowers
	// it. A message that was never indexed, or that an event of another
	// type names, is ErrNotFound.
	RecordReceipt(ctx context.Context, provider, messageID, eventType string, r Receipt) (Delivery, bool, error)
	// RunDeliveries returns the deliveries of a run's steps, ordered by step
	// id, item and message id. A run with none, or an unknown run, has none.
	RunDeliveries(ctx context.Context, runID string) ([]Delivery, error)
}

// Delivery is one indexed message and the best receipt recorded for it.
type Delivery struct {
	// StepKey is the step record (and item) whose output named the message.
	StepKey
	// Provider is the provider instance that sent the message.
	Provider string
	// MessageID is the message's id as the provider names it.
	MessageID string
	// Event is the event type that reports the message's delivery.
	Event string
	// Receipt is the best receipt recorded; its Status is empty until one
	// arrives.
	Receipt
}

// Receipt is one delivery status report.
type Receipt struct {
	// Status is sent, delivered, read or failed.
	Status string
	// At is when the host received the report.
	At time.Time
	// Data is the reporting event's data (JSON).
	Data json.RawMessage
}

// DeliveryRank orders delivery statuses as sdk.DeliveryStatus.Rank does:
// sent 1, failed 2, delivered 3, read 4, anything else 0. A recorded status
// is replaced only by a higher rank: read beats delivered beats sent, a
// failure beats a late "sent", and a "delivered" after a failure (a channel
// that retried) replaces it.
func DeliveryRank(status string) int { return sdk.DeliveryStatus(status).Rank() }

// Validate reports an ErrInvalid error when d cannot be indexed.
func (d Delivery) Validate() error {
	if err := d.StepKey.Validate(); err != nil {
		return err
	}
	if d.Provider == "" || d.MessageID == "" || d.Event == "" {
		return fmt.Errorf("%w: delivery of %s: provider, message id and event are required", ErrInvalid, d.name())
	}
	return nil
}

// Validate reports an ErrInvalid error when r cannot be recorded.
func (r Receipt) Validate() error {
	if DeliveryRank(r.Status) == 0 {
		return fmt.Errorf("%w: receipt: unknown delivery status %q", ErrInvalid, r.Status)
	}
	if r.At.IsZero() {
		return fmt.Errorf("%w: receipt: time is zero", ErrInvalid)
	}
	return validJSON("receipt event", r.Data)
}
