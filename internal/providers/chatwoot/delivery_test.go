package chatwoot_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// messageUpdated turns the message_created fixture into a message_updated
// payload for an outgoing message whose conversation entry has status;
// top, when not empty, is also set as a top-level status.
func messageUpdated(t *testing.T, status, top string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(specFile(t, "webhook_message_created.json"), &m))
	m["event"] = "message_updated"
	m["message_type"] = "outgoing"
	conv := m["conversation"].(map[string]any)
	msgs := conv["messages"].([]any)
	msgs[0].(map[string]any)["status"] = status
	if top != "" {
		m["status"] = top
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestMessageUpdatedIsAReceipt(t *testing.T) {
	t.Parallel()
	c := webhookClient(t, time.Now(), "", "")
	for _, tc := range []struct {
		name, status, top string
		want              *sdk.Receipt
	}{
		{"delivered from the conversation's entry", "delivered", "", &sdk.Receipt{MessageID: "4321", Status: sdk.DeliveryDelivered}},
		{"read", "read", "", &sdk.Receipt{MessageID: "4321", Status: sdk.DeliveryRead}},
		{"failed", "failed", "", &sdk.Receipt{MessageID: "4321", Status: sdk.DeliveryFailed}},
		{"a top-level status wins", "sent", "read", &sdk.Receipt{MessageID: "4321", Status: sdk.DeliveryRead}},
		{"progress is no delivery status", "progress", "", nil},
	} {
		events, err := deliver(c, http.Header{}, messageUpdated(t, tc.status, tc.top))
		require.NoError(t, err, tc.name)
		require.Len(t, events, 1, tc.name)
		require.Equal(t, "chatwoot.message_updated", events[0].Type, tc.name)
		require.Equal(t, tc.want, events[0].Receipt, tc.name)
	}
}

func TestOnlyMessageUpdatedIsAReceipt(t *testing.T) {
	t.Parallel()
	c := webhookClient(t, time.Now(), "", "")
	events, err := deliver(c, http.Header{}, specFile(t, "webhook_message_created.json"))
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Nil(t, events[0].Receipt)
}

// TestSendsDeclareTheirReceipts checks the declaration over gRPC and that
// the output of a send names the message as its receipts do.
func TestSendsDeclareTheirReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec, err := b.client.Describe(t.Context())
	require.NoError(t, err)
	for _, name := range []string{"send_message", "create_message"} {
		a, ok := spec.Action(name)
		require.True(t, ok, name)
		require.Equal(t, &sdk.DeliverySpec{Event: "chatwoot.message_updated", OutputField: "message_id"}, a.Delivery, name)
	}
	out, err := b.invoke(t, "send_message", map[string]any{"contact": map[string]any{"identifier": "crm-7"}, "content": "hi"})
	require.NoError(t, err)
	raw, err := json.Marshal(out)
	require.NoError(t, err)
	send, _ := spec.Action("send_message")
	require.Equal(t, out["message_id"].(json.Number).String(), send.Delivery.MessageID(raw))
	require.NotEmpty(t, send.Delivery.MessageID(raw))
}
