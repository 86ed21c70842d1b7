// Package sdk is the only package a Herald provider plugin imports.
//
// A provider declares itself once, as a Spec: its configuration schema, its
// actions with their input and output schemas and handlers, and the events it
// can emit. That one declaration drives input validation (in the plugin and in
// `herald validate`), `herald plugins describe`, the generated docs and the
// JSON Schema editors use.
//
// A plugin's main is one line:
//
//	func main() { sdk.Serve(chatapi.New()) }
//
// Handlers return plain Go values as output, or an error made with
// Retryable, Permanent, RateLimited or InvalidInput so the host knows whether
// and when to retry. Providers that talk HTTP use HTTP, which classifies status
// codes the way every bundled plugin does, renders dry-run requests with
// sensitive values masked, and applies body overrides.
//
// The same Provider runs in-process when Herald is embedded as a library:
// NewServer wraps it in the Client interface the engine uses for plugins
// reached over gRPC.
//
// This package must not import anything from the Herald engine.
package sdk
