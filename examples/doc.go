// Package examples holds examples that are not part of Herald's API.
// smsgateway/ is a provider plugin written as a third party writes one: a Go
// module of its own that imports only github.com/heraldhq/herald/sdk. It is
// a separate module, so `go test ./...` from the repository root does not
// descend into it; this package's tests do, as the plugin's author and its
// users would: they run its tests, build it, and use it from the herald
// binary, also in debug mode.
package examples
