package chatwoot

import (
	"encoding/json"

	"github.com/heraldhq/herald/sdk"
)

// eventMessageUpdated is the event Chatwoot sends when a message changes,
// among others when its channel reports it delivered, read or failed.
const eventMessageUpdated = "chatwoot.message_updated"

// messageDelivery declares the receipts of the actions that create a
// message: chatwoot.message_updated names the message by its id, the
// message_id of the action's output.
var messageDelivery = &sdk.DeliverySpec{Event: eventMessageUpdated, OutputField: "message_id"}

// messageStatuses are Chatwoot's message statuses (Message#status), which
// are Herald's delivery statuses word for word. "progress" (an agent bot
// still working) is not a delivery status.
var messageStatuses = map[string]sdk.DeliveryStatus{
	"sent":      sdk.DeliverySent,
	"delivered": sdk.DeliveryDelivered,
	"read":      sdk.DeliveryRead,
	"failed":    sdk.DeliveryFailed,
}

// updatedMessage is the part of a message_updated payload a receipt reads.
type updatedMessage struct {
	ID           json.RawMessage `json:"id"`
	Status       string          `json:"status"`
	Conversation struct {
		Messages []struct {
			ID     json.RawMessage `json:"id"`
			Status string          `json:"status"`
		} `json:"messages"`
	} `json:"conversation"`
}

// messageReceipt reads the receipt of a message_updated payload: the
// message's id and its status. Message#webhook_data (v4.14) does not carry
// the status at the top level, but the conversation's messages (its
// push_event_data) do, so the status is taken from the top level when
// present, else from the conversation's entry for the same message. A
// payload without a known status yields no receipt.
func messageReceipt(data []byte) *sdk.Receipt {
	var m updatedMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	id := sdk.MessageKey(m.ID)
	if id == "" {
		return nil
	}
	status := m.Status
	if status == "" {
		for _, cm := range m.Conversation.Messages {
			if sdk.MessageKey(cm.ID) == id {
				status = cm.Status
				break
			}
		}
	}
	s, ok := messageStatuses[status]
	if !ok {
		return nil
	}
	return &sdk.Receipt{MessageID: id, Status: s}
}
