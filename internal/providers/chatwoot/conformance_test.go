package chatwoot_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	f := fake.New()
	_, sourceID := f.AddContact(fake.Contact{Name: "Jane Doe", Identifier: "crm-0042", PhoneNumber: "+14155550123"})
	conv, err := f.AddConversation(sourceID)
	if err != nil {
		t.Fatal(err)
	}
	sdktest.Conformance(t, chatwoot.New(), sdktest.Options{
		Instance: instance,
		Config:   fake.ProviderConfig,
		Fake:     f,
		Inputs: map[string]map[string]any{
			"send_message": {
				"contact": map[string]any{"identifier": "crm-0042", "name": "Jane Doe"},
				"content": "Your order #1042 has shipped.",
			},
			"create_contact":      {"name": "Ada", "email": "ada@example.com", "phone_number": "+442071838750"},
			"create_conversation": {"source_id": sourceID, "status": "open"},
			"create_message":      {"conversation_id": conv.ID, "content": "Thanks for waiting."},
			"search_contacts":     {"q": "crm-0042"},
		},
	})
}
