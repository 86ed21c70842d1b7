// Command herald-provider-smsgateway is an example Herald provider plugin for
// an SMS gateway, built outside the Herald module: the host launches it and
// talks to it over gRPC. Build it with `go build` in this directory and put
// the binary in a plugin directory (see README.md).
package main

import (
	"github.com/heraldhq/herald/sdk"

	"example.com/herald-provider-smsgateway/smsgateway"
)

func main() { sdk.Serve(smsgateway.New()) }
