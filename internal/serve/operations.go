package serve

import (
	"context"
	"encoding/json"
	"errors"
)

// errNotYet is returned by the run operations until they are wired to the
// engine.
var errNotYet = errors.New("not implemented yet")

// RetryRun implements httpapi.Runtime.
func (s *Server) RetryRun(ctx context.Context, id, fromStep, by string) error { return errNotYet }

// CancelRun implements httpapi.Runtime.
func (s *Server) CancelRun(ctx context.Context, id, by string) error { return errNotYet }

// ResolveRun implements httpapi.Runtime.
func (s *Server) ResolveRun(ctx context.Context, id, step string, item int, sent bool, by string) error {
	return errNotYet
}

// SignalRun implements httpapi.Runtime.
func (s *Server) SignalRun(ctx context.Context, id, name string, data json.RawMessage, by string) error {
	return errNotYet
}
