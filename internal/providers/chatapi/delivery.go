package chatapi

import (
	"encoding/json"

	"github.com/heraldhq/herald/sdk"
)

// sendDelivery declares the receipts of send_message and send_file: Chat API
// reports each status change of a sent message as an element of a webhook's
// ack array (chatapi.ack), naming the message by the id the send returned.
var sendDelivery = &sdk.DeliverySpec{Event: EventAck, OutputField: "id"}

// ackStatuses maps Chat API's ack statuses onto delivery statuses.
var ackStatuses = map[string]sdk.DeliveryStatus{
	"sent":      sdk.DeliverySent,
	"delivered": sdk.DeliveryDelivered,
	"viewed":    sdk.DeliveryRead,
}

// ackReceipt reads the receipt of one ack element, nil when it names no
// message or a status Herald does not know (Chat API has added statuses
// before; an unknown one is passed on as an event but not recorded).
func ackReceipt(fields map[string]json.RawMessage) *sdk.Receipt {
	var ack struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	ack.ID = sdk.MessageKey(fields["id"])
	_ = json.Unmarshal(fields["status"], &ack.Status)
	status, ok := ackStatuses[ack.Status]
	if ack.ID == "" || !ok {
		return nil
	}
	return &sdk.Receipt{MessageID: ack.ID, Status: status}
}
