package chatwoot_test

import (
	"net/http"
	"strings"
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
		Fake:     recreatable(f, "ada@example.com"),
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
		// create_contact's lookup matches by key, whenever the contact was
		// made: an input whose email the fake never saw.
		ReconcileUnsent: map[string]map[string]any{
			"create_contact": {"name": "Bea", "email": "bea@example.com"},
		},
	})
}

// recreatable serves f, deleting the contact with email before each
// POST /contacts: the suite creates create_contact's input in more than one
// subtest, and Chatwoot (like the fake) refuses a second contact with the
// same email.
func recreatable(f *fake.Fake, email string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/contacts") {
			for _, c := range f.Contacts() {
				if c.Email == email {
					f.DeleteContact(c.ID)
				}
			}
		}
		f.ServeHTTP(w, r)
	})
}
