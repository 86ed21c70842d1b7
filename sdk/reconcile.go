package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ReconcileFunc asks the provider whether an earlier attempt of call (same
// Input, IdempotencyKey and Config) reached it. since is the attempt's start
// time; providers that report times in whole seconds compare against since
// truncated to the second, or they miss a send from the same second. It must
// send nothing: only lookups (GET or HEAD). HTTP.Do refuses any other method
// while a call reconciles.
type ReconcileFunc func(ctx context.Context, call *Call, since time.Time) (Reconciliation, error)

// ReconcileStatus is a reconcile handler's answer.
type ReconcileStatus string

// The three answers of a reconcile handler.
const (
	// ReconcileFound says the earlier attempt reached the provider; its
	// output is in Reconciliation.Output and nothing is resent.
	ReconcileFound ReconcileStatus = "found"
	// ReconcileNotFound says the earlier attempt did not reach the
	// provider: the host sends it again.
	ReconcileNotFound ReconcileStatus = "not_found"
	// ReconcileUnknown says the provider cannot tell yet: the host asks
	// again with backoff, then stops for an operator.
	ReconcileUnknown ReconcileStatus = "unknown"
)

// Reconciliation is what a reconcile handler found out.
type Reconciliation struct {
	Status ReconcileStatus `json:"status"`
	// Output is, when Status is found, what the send would have returned;
	// it must validate against the action's output schema. On the host side
	// of a Client it is a json.RawMessage.
	Output any `json:"output,omitempty"`
	// Detail is one line for the run history, such as "message 3EB0… sent
	// at 12:00:01".
	Detail string `json:"detail,omitempty"`
}

// ReconcileRequest asks a provider whether an earlier attempt of an invoke
// reached it: the invoke's fields as they were sent, and the attempt's start.
type ReconcileRequest struct {
	InvokeRequest
	// Since is when the attempt in doubt started.
	Since time.Time
}

// Reconciler is implemented by the Clients that can reconcile: *Server and
// the gRPC client of a plugin process. A plugin built before reconcile
// existed answers ErrNoReconcile.
type Reconciler interface {
	Reconcile(ctx context.Context, req *ReconcileRequest) (*Reconciliation, error)
}

// ErrNoReconcile is wrapped by the error Reconcile returns for an action
// without a reconcile handler, including every action of a plugin built
// before the protocol had reconcile.
var ErrNoReconcile = errors.New("action has no reconcile handler")

// CanReconcile reports whether the action has a reconcile handler: its
// Reconcile func in the plugin, or the described flag on the host side.
func (a *Action) CanReconcile() bool { return a.Reconcile != nil || a.Reconciles }

// Valid reports whether s is one of the three answers.
func (s ReconcileStatus) Valid() bool {
	return s == ReconcileFound || s == ReconcileNotFound || s == ReconcileUnknown
}

// lookupOnly refuses a request that could change anything while call
// reconciles: a reconcile handler must send nothing.
func lookupOnly(call *Call, method string) error {
	if !call.Reconciling() || method == http.MethodGet || method == http.MethodHead {
		return nil
	}
	return Permanent(fmt.Errorf("reconcile must send nothing: %s refused (only GET and HEAD)", method))
}

// reconcileOutput encodes a found output for the wire.
func reconcileOutput(r Reconciliation) (json.RawMessage, error) {
	if r.Status != ReconcileFound || r.Output == nil {
		return nil, nil
	}
	if raw, ok := r.Output.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(r.Output)
}
