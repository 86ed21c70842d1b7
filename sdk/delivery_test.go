package sdk

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/pluginpb"
)

func TestDeliveryStatusRank(t *testing.T) {
	t.Parallel()
	order := []DeliveryStatus{DeliverySent, DeliveryFailed, DeliveryDelivered, DeliveryRead}
	for i := 1; i < len(order); i++ {
		require.Greater(t, order[i].Rank(), order[i-1].Rank(), "%s beats %s", order[i], order[i-1])
	}
	require.False(t, DeliveryStatus("viewed").Valid())
}

func TestMessageIDFromOutput(t *testing.T) {
	t.Parallel()
	d := &DeliverySpec{Event: "x.ack", OutputField: "id"}
	require.Equal(t, "true_1@c.us_A", d.MessageID(json.RawMessage(`{"id":"true_1@c.us_A"}`)))
	require.Equal(t, "9007199254740993", d.MessageID(json.RawMessage(`{"id":9007199254740993}`)), "an int64 id is not rounded")
	require.Empty(t, d.MessageID(json.RawMessage(`{"other":1}`)))
	require.Empty(t, d.MessageID(json.RawMessage(`[1]`)))
	require.Empty(t, d.MessageID(json.RawMessage(`{"id":{"a":1}}`)))
	var none *DeliverySpec
	require.Empty(t, none.MessageID(json.RawMessage(`{"id":"a"}`)))
}

// TestProtocolOneWithoutDelivery checks that what a plugin built before
// receipts sends (no delivery, no receipt fields) decodes as before.
func TestProtocolOneWithoutDelivery(t *testing.T) {
	t.Parallel()
	spec, err := specFromProto(&pluginpb.DescribeResponse{Type: "old", Actions: []*pluginpb.ActionSpec{{Name: "send"}}})
	require.NoError(t, err)
	require.Nil(t, spec.Actions[0].Delivery)
	ev := eventFromProto(&pluginpb.Event{Type: "old.ack", Id: "1", Data: []byte(`{}`)})
	require.Nil(t, ev.Receipt)
}

func TestReceiptRoundTrip(t *testing.T) {
	t.Parallel()
	in := Event{Type: "x.ack", Data: []byte(`{}`), Receipt: &Receipt{MessageID: "m1", Status: DeliveryRead}}
	require.Equal(t, in, eventFromProto(eventToProto(in)))
	bad := eventFromProto(&pluginpb.Event{Type: "x.ack", ReceiptMessageId: "m1", ReceiptStatus: "viewed"})
	require.Nil(t, bad.Receipt, "a status outside the four is not a receipt")
}
