// Package host wires one Herald process together: it reads secrets, starts
// the plugin host, loads and validates the project against the plugins'
// schemas, opens the store, configures every provider instance and builds
// the engine. The CLI commands, `herald serve` and the embedding package all
// start from here, so they load a project the same way.
//
// It owns no behaviour of its own beyond that wiring: loading is
// internal/config's, running is internal/engine's.
package host
