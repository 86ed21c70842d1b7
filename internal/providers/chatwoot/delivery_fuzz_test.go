package chatwoot

import (
	"testing"

	"github.com/heraldhq/herald/internal/specfixture"
)

// FuzzMessageReceipt feeds message_updated payloads to the receipt reader:
// it must not panic, and a receipt it returns names a message and a known
// status.
func FuzzMessageReceipt(f *testing.F) {
	f.Add(specfixture.Read(f, "chatwoot", "webhook_message_created.json"))
	f.Add([]byte(`{"id":4321,"status":"read"}`))
	f.Add([]byte(`{"id":"4321","conversation":{"messages":[{"id":4321,"status":"delivered"}]}}`))
	f.Add([]byte(`{"id":1e400,"status":"read"}`))
	f.Add([]byte(`{"id":null,"conversation":{"messages":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := messageReceipt(data)
		if r != nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid receipt %+v from %s: %v", r, data, err)
			}
		}
	})
}
