package chatapi

import (
	"testing"

	"github.com/heraldhq/herald/internal/providers/chatapi/fake"
	"github.com/heraldhq/herald/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	f := fake.New()
	// delete_instance removes this instance, so the account's first one
	// stays for the other actions whatever order they run in.
	f.AddInstance("300001", "conformance-token-1")
	sdktest.Conformance(t, New(), sdktest.Options{
		Config: fake.ProviderConfig,
		Fake:   f,
		Inputs: map[string]map[string]any{
			"send_message":    {"phone": "17472822486", "body": "Your order #1042 has shipped", "mentioned_phones": []any{"17472822487"}},
			"send_file":       {"chat_id": "17472822486@c.us", "body": "https://upload.wikimedia.org/wikipedia/ru/3/33/NatureCover2001.jpg", "filename": "cover.jpg", "caption": "Text under the file"},
			"status":          {},
			"create_instance": {"type": "whatsapp"},
			"list_instances":  {},
			"delete_instance": {"instance_id": "300001"},
		},
	})
}
