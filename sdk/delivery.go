package sdk

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// DeliveryStatus is how far a sent message has got, as a delivery receipt
// reports it. Providers map their own words onto these four (Chat API's
// "viewed" is DeliveryRead).
type DeliveryStatus string

// The delivery statuses, in the order the host ranks them: a receipt never
// lowers a recorded status (see DeliveryStatus.Rank).
const (
	DeliverySent      DeliveryStatus = "sent"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryRead      DeliveryStatus = "read"
)

// Rank orders the statuses: sent 1, failed 2, delivered 3, read 4, and 0 for
// anything else. The host keeps the highest rank it has seen for a message,
// so read beats delivered beats sent, a failure beats a late "sent", and a
// "delivered" after a failure (a channel that retried) wins over it.
func (s DeliveryStatus) Rank() int {
	switch s {
	case DeliverySent:
		return 1
	case DeliveryFailed:
		return 2
	case DeliveryDelivered:
		return 3
	case DeliveryRead:
		return 4
	}
	return 0
}

// Valid reports whether s is one of the four statuses.
func (s DeliveryStatus) Valid() bool { return s.Rank() > 0 }

// DeliverySpec declares that an action's sends get delivery receipts: which
// of the provider's events reports them, and where the action's output
// names the message the receipts refer to. Set it as Action.Delivery; the
// events themselves carry a Receipt naming the same message id.
type DeliverySpec struct {
	// Event is the provider event that reports the delivery, such as
	// "chatapi.ack"; it must be one of the Spec's Events.
	Event string `json:"event"`
	// OutputField is the top-level key of the action's output holding the
	// message id, such as "id" or "message_id". A string is taken as it
	// is; a number by its decimal text, so 4321 and "4321" name the same
	// message.
	OutputField string `json:"output_field"`
}

// MessageID returns the message id the output names, or "" when the output
// has none.
func (d *DeliverySpec) MessageID(output json.RawMessage) string {
	if d == nil || d.OutputField == "" || len(output) == 0 {
		return ""
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(output, &fields) != nil {
		return ""
	}
	return MessageKey(fields[d.OutputField])
}

// MessageKey returns the text of a JSON message id: a string's value, a
// number's decimal text, and "" for anything else.
func MessageKey(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if i, err := n.Int64(); err == nil {
			return strconv.FormatInt(i, 10)
		}
		return n.String()
	}
	return ""
}

// Receipt is what a delivery-receipt event says about one message: set it
// on the Event a webhook produces (Event.Receipt) so the host can find the
// step that sent the message.
type Receipt struct {
	// MessageID is the message's id as the sending action's output names
	// it (see DeliverySpec.OutputField).
	MessageID string `json:"message_id"`
	// Status is the new delivery status.
	Status DeliveryStatus `json:"status"`
}

// Validate reports a receipt that names no message or an unknown status.
func (r *Receipt) Validate() error {
	switch {
	case r.MessageID == "":
		return fmt.Errorf("receipt: message id is empty")
	case !r.Status.Valid():
		return fmt.Errorf("receipt: unknown delivery status %q", r.Status)
	}
	return nil
}

// deliveryToProto encodes an action's DeliverySpec for ActionSpec.delivery;
// nil stays empty, so older hosts see no field.
func deliveryToProto(d *DeliverySpec) ([]byte, error) {
	if d == nil {
		return nil, nil
	}
	return json.Marshal(d)
}

// deliveryFromProto decodes ActionSpec.delivery; empty (a plugin that
// predates receipts, or an action without them) is nil.
func deliveryFromProto(b []byte) (*DeliverySpec, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := &DeliverySpec{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	return d, nil
}

// eventToProto encodes an event with its receipt, if any.
func eventToProto(e Event) *pluginpb.Event {
	pe := &pluginpb.Event{Type: e.Type, Id: e.ID, Data: e.Data}
	if e.Receipt != nil {
		pe.ReceiptMessageId = e.Receipt.MessageID
		pe.ReceiptStatus = string(e.Receipt.Status)
	}
	return pe
}

// eventFromProto decodes an event; a receipt comes back only when it names
// a message and a known status, so a plugin's malformed receipt is ignored
// rather than recorded.
func eventFromProto(pe *pluginpb.Event) Event {
	e := Event{Type: pe.Type, ID: pe.Id, Data: pe.Data}
	if pe.ReceiptMessageId != "" {
		r := &Receipt{MessageID: pe.ReceiptMessageId, Status: DeliveryStatus(pe.ReceiptStatus)}
		if r.Validate() == nil {
			e.Receipt = r
		}
	}
	return e
}
