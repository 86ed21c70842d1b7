package httpapi_test

import (
	"fmt"

	"github.com/heraldhq/herald/internal/httpapi"
)

// A sender signs a webhook body with the trigger's secret and sends the
// result as the X-Herald-Signature header.
func ExampleSign() {
	body := []byte(`{"urgent":true}`)
	fmt.Println(httpapi.SignatureHeader + ": " + httpapi.Sign("hook-secret", body))
	// Output:
	// X-Herald-Signature: sha256=92e57b94fbb9976789d14804e95448eb9a06c1a526a10337485b86321dcd3774
}

// Without an API token, serve listens on loopback addresses only.
func ExampleListenCheck() {
	fmt.Println(httpapi.ListenCheck("127.0.0.1:8080", ""))
	fmt.Println(httpapi.ListenCheck("0.0.0.0:8080", ""))
	fmt.Println(httpapi.ListenCheck("0.0.0.0:8080", "s3cret-token"))
	// Output:
	// <nil>
	// refusing to listen on 0.0.0.0:8080 (0.0.0.0) without an API token: set HERALD_API_TOKEN, or listen on a loopback address such as 127.0.0.1:8080
	// <nil>
}
