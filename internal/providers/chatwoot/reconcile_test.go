package chatwoot_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
)

// reconcile asks the provider over gRPC whether the attempt of action with
// input that started at since reached Chatwoot.
func (b *bundle) reconcile(t *testing.T, action string, input map[string]any, since time.Time) *sdk.Reconciliation {
	t.Helper()
	raw, err := json.Marshal(input)
	require.NoError(t, err)
	rec, err := b.client.(sdk.Reconciler).Reconcile(context.Background(), &sdk.ReconcileRequest{
		InvokeRequest: sdk.InvokeRequest{Instance: instance, Action: action, Input: raw, IdempotencyKey: "run-1/step-1/0", Attempt: 2},
		Since:         since,
	})
	require.NoError(t, err)
	return rec
}

func TestReconcileOverGRPCSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now()
	send := map[string]any{"contact": map[string]any{"phone_number": "+14155550123"}, "content": "db-1 disk full"}

	rec := b.reconcile(t, "send_message", send, start)
	require.Equal(t, sdk.ReconcileNotFound, rec.Status, rec.Detail)

	b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Method: http.MethodPost, PathPrefix: "/api/v1/accounts/1/conversations/", Drop: sandbox.DropClose, Count: 1})
	_, err := b.invoke(t, "send_message", send)
	require.Error(t, err, "the answer was dropped")
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "a send whose answer is lost is in doubt: %v", err)
	b.exchanges.take()

	rec = b.reconcile(t, "send_message", send, start)
	require.Equal(t, sdk.ReconcileFound, rec.Status, rec.Detail)
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Output.(json.RawMessage), &out))
	msgs := b.fake.Messages()
	require.Len(t, msgs, 1)
	require.EqualValues(t, msgs[0].ID, out["message_id"])
	require.EqualValues(t, msgs[0].ConversationID, out["conversation_id"])
	for _, x := range b.exchanges.take() {
		require.Equal(t, http.MethodGet, x.Method, "a reconcile only looks: %s %s", x.Method, x.Path)
	}

	rec = b.reconcile(t, "create_message", map[string]any{"conversation_id": msgs[0].ConversationID, "content": "db-1 disk full"}, start)
	require.Equal(t, sdk.ReconcileFound, rec.Status, rec.Detail)
	rec = b.reconcile(t, "create_contact", map[string]any{"phone_number": "+14155550123"}, start)
	require.Equal(t, sdk.ReconcileFound, rec.Status, rec.Detail)

	b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Status: http.StatusInternalServerError, Count: 1})
	rec = b.reconcile(t, "create_message", map[string]any{"conversation_id": msgs[0].ConversationID, "content": "x"}, start)
	require.Equal(t, sdk.ReconcileUnknown, rec.Status, "a 5xx tells nothing")
	require.NotContains(t, rec.Detail, "cw-sandbox-token", "the token never shows")
}

func TestDescribeDeclaresTheReconcilingActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec, err := b.client.Describe(context.Background())
	require.NoError(t, err)
	got := map[string]bool{}
	for _, a := range spec.Actions {
		got[a.Name] = a.CanReconcile()
	}
	require.Equal(t, map[string]bool{
		"send_message": true, "create_message": true, "create_contact": true,
		"create_conversation": false, "search_contacts": false,
	}, got)
}
