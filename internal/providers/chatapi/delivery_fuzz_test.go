package chatapi

import (
	"encoding/json"
	"testing"
)

// FuzzAckReceipt feeds ack elements to the receipt reader: it must not
// panic, and a receipt it returns names a message and a known status.
func FuzzAckReceipt(f *testing.F) {
	f.Add([]byte(`{"id":"true_1@c.us_A","status":"viewed"}`))
	f.Add([]byte(`{"id":17,"status":"sent"}`))
	f.Add([]byte(`{"id":"","status":"delivered"}`))
	f.Add([]byte(`{"id":["x"],"status":{"a":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) != nil {
			return
		}
		r := ackReceipt(fields)
		if r != nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid receipt %+v from %s: %v", r, data, err)
			}
		}
	})
}
