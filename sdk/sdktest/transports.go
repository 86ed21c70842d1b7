package sdktest

import (
	"testing"

	"github.com/heraldhq/herald/sdk"
)

// Transport returns the client a test reaches a provider through. Serve is
// one, so a helper that takes a Transport accepts Serve directly.
type Transport func(t testing.TB, p sdk.Provider) sdk.Client

var _ Transport = Serve

// Transports are both ways a host reaches a provider: "in_process", as an
// embedding application registers it, and "grpc", over the real plugin
// transport (Serve). Run a test over both to check a provider behaves the
// same either way:
//
//	for name, serve := range sdktest.Transports {
//		t.Run(name, func(t *testing.T) { client := serve(t, myprovider.New()) ... })
//	}
var Transports = map[string]Transport{
	"in_process": InProcess,
	"grpc":       Serve,
}

// InProcess returns the client an embedding application gets when it
// registers p in-process: no transport at all between host and provider.
func InProcess(_ testing.TB, p sdk.Provider) sdk.Client { return sdk.NewServer(p, nil) }
