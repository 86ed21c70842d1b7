package chatapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// TestAckFixtureIsAReceipt checks that the recorded ack webhook becomes a
// chatapi.ack event whose receipt names the message as send_message's output
// does, over both transports.
func TestAckFixtureIsAReceipt(t *testing.T) {
	t.Parallel()
	for name, serve := range transports {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
			events, err := e.webhook(t, fixture(t, "webhook_ack.json"), testWebhookToken)
			require.NoError(t, err)
			require.Len(t, events, 1)
			require.Equal(t, &sdk.Receipt{MessageID: "true_17472822486@c.us_3EB0C431C26A1916603A", Status: sdk.DeliveryDelivered}, events[0].Receipt)

			out, err := e.invoke(t, "send_message", map[string]any{"phone": "17472822486", "body": "hi"})
			require.NoError(t, err)
			spec, err := e.client.Describe(context.Background())
			require.NoError(t, err)
			action, ok := spec.Action("send_message")
			require.True(t, ok)
			require.Equal(t, events[0].Receipt.MessageID, action.Delivery.MessageID(out), "the receipt names the message the send's output names")
		})
	}
}

// TestAckWebhookWithSeveralAcks checks that one webhook carrying several acks
// yields one receipt per ack, viewed becoming read, and that an ack with a
// status Herald does not know stays an event without a receipt.
func TestAckWebhookWithSeveralAcks(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	body := []byte(`{"instanceId":"229607","ack":[
		{"id":"true_1@c.us_A","chatId":"1@c.us","status":"sent"},
		{"id":"true_1@c.us_A","chatId":"1@c.us","status":"delivered"},
		{"id":"true_2@c.us_B","chatId":"2@c.us","status":"viewed"},
		{"id":"true_2@c.us_B","chatId":"2@c.us","status":"pending"},
		{"chatId":"3@c.us","status":"viewed"}]}`)
	events, err := e.webhook(t, body, testWebhookToken)
	require.NoError(t, err)
	require.Len(t, events, 5)
	want := []*sdk.Receipt{
		{MessageID: "true_1@c.us_A", Status: sdk.DeliverySent},
		{MessageID: "true_1@c.us_A", Status: sdk.DeliveryDelivered},
		{MessageID: "true_2@c.us_B", Status: sdk.DeliveryRead},
		nil,
		nil,
	}
	for i, ev := range events {
		require.Equal(t, EventAck, ev.Type)
		require.Equal(t, want[i], ev.Receipt, "ack %d", i)
	}
}

// TestOnlyAcksAreReceipts checks that messages and chat updates carry no
// receipt.
func TestOnlyAcksAreReceipts(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	for _, name := range []string{"webhook_messages.json", "webhook_chatUpdate.json"} {
		events, err := e.webhook(t, fixture(t, name), testWebhookToken)
		require.NoError(t, err)
		for _, ev := range events {
			require.Nil(t, ev.Receipt, name)
		}
	}
}
