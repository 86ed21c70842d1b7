// Package sdktest is the test harness for provider authors: Serve runs a
// provider in-process over the real gRPC transport of the plugin protocol, and
// Conformance checks that a provider follows the rules every Herald plugin
// shares (a valid spec, classified errors that survive the wire, dry-run that
// sends nothing and masks secrets, cancellation honoured).
//
// Every bundled plugin runs Conformance in its tests:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Conformance(t, chatapi.New(), sdktest.Options{
//			Config: func(baseURL string) map[string]any {
//				return map[string]any{"instance_id": "1", "token": "tok-secret-1", "api_url": baseURL}
//			},
//			Fake:   chatapi.Fake(),
//			Inputs: map[string]map[string]any{"send_message": {"phone": "14155550123", "body": "hi"}},
//		})
//	}
//
// This package imports only the sdk, go-plugin and testing libraries.
package sdktest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/heraldhq/herald/sdk"
)

// Serve runs p in-process behind the real gRPC transport of the plugin
// protocol and returns the sdk.Client the host would get for a plugin
// process: values, errors and cancellation cross the same protobuf messages.
// The provider's logs go to t.Log. Everything is shut down by t.Cleanup.
func Serve(t testing.TB, p sdk.Provider) sdk.Client {
	t.Helper()
	logs := &testWriter{t: t}
	t.Cleanup(logs.stop) // runs last: the server below is stopped first
	logger := hclog.New(&hclog.LoggerOptions{Name: "provider." + p.Spec().Type, Level: hclog.Trace, Output: logs})
	srv := sdk.NewServer(p, logger)
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.PluginSet(srv))
	// Close asks the server to stop through go-plugin's controller service,
	// as the host does with a plugin process.
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense %s: %v", sdk.PluginName, err)
	}
	c, ok := raw.(sdk.Client)
	if !ok {
		t.Fatalf("sdktest: dispensed %T, not an sdk.Client", raw)
	}
	return c
}

// testWriter sends log lines to t.Log until the test ends; later writes (a
// handler still logging while the server stops) are dropped, because t.Log
// after the test has finished panics.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
