package fake_test

import (
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald/internal/providers/chitchatlabs/fake"
)

// The instance config that points the chitchatlabs provider at a fake
// mounted under /chitchatlabs.
func ExampleProviderConfig() {
	b, _ := json.MarshalIndent(fake.ProviderConfig("http://127.0.0.1:8089/chitchatlabs"), "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "api_key": "sandbox-api-key",
	//   "base_url": "http://127.0.0.1:8089/chitchatlabs"
	// }
}
