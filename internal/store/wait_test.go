package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInboxEventValidate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		ev    InboxEvent
		valid bool
	}{
		{"complete", InboxEvent{Event: "chatapi.ack", Instance: "chatapi", Data: json.RawMessage(`{"id":"m1"}`), ReceivedAt: at}, true},
		{"without data", InboxEvent{Event: "chatapi.ack", ReceivedAt: at}, true},
		{"without an event type", InboxEvent{Instance: "chatapi", ReceivedAt: at}, false},
		{"without a time", InboxEvent{Event: "chatapi.ack", Instance: "chatapi"}, false},
		{"data that is not JSON", InboxEvent{Event: "chatapi.ack", Data: json.RawMessage(`{"id":`), ReceivedAt: at}, false},
	} {
		if c.valid {
			require.NoError(t, c.ev.Validate(), c.name)
		} else {
			require.ErrorIs(t, c.ev.Validate(), ErrInvalid, c.name)
		}
	}
}
