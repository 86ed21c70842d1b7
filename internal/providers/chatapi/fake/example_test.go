package fake_test

import (
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald/internal/providers/chatapi/fake"
)

// The instance config that points the chatapi provider, instance API and
// instance management alike, at a fake mounted under /chatapi.
func ExampleProviderConfig() {
	b, _ := json.MarshalIndent(fake.ProviderConfig("http://127.0.0.1:8089/chatapi"), "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "api_url": "http://127.0.0.1:8089/chatapi",
	//   "instance_id": "229607",
	//   "management_url": "http://127.0.0.1:8089/chatapi",
	//   "token": "sandbox-token",
	//   "uid": "sandbox-uid"
	// }
}
