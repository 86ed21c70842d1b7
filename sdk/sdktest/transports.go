package sdktest

import (
	"testing"

	"github.com/heraldhq/herald/sdk"
)

// Transport returns the client a test reaches a provider through.
type Transport func(t *testing.T, p sdk.Provider) sdk.Client

// Transports are both ways a host reaches a provider: "in_process", as an
// embedding application registers it, and "grpc", over the real plugin
// transport (Serve). Run a test over both to check a provider behaves the
// same either way:
//
//	for name, serve := range sdktest.Transports {
//		t.Run(name, func(t *testing.T) { client := serve(t, myprovider.New()) ... })
//	}
var Transports = map[string]Transport{
	"in_process": func(_ *testing.T, p sdk.Provider) sdk.Client { return sdk.NewServer(p, nil) },
	"grpc":       func(t *testing.T, p sdk.Provider) sdk.Client { return Serve(t, p) },
}
