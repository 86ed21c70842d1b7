package pluginhost

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testplugin"
	"github.com/heraldhq/herald/sdk"
)

// TestReconcileReachesThePluginProcess calls the echo plugin's reconcile
// handler in its own process: describe carries the flag, a send is found by
// its idempotency key, an unsent one is not, and an action without a handler
// answers ErrNoReconcile.
func TestReconcileReachesThePluginProcess(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(testplugin.Fake())
	t.Cleanup(api.Close)
	f := setup(t, Options{})
	ctx := context.Background()
	spec, err := f.host.Spec(ctx, "echo")
	require.NoError(t, err)
	send, _ := spec.Action("send")
	echo, _ := spec.Action("echo")
	require.True(t, send.CanReconcile())
	require.False(t, echo.CanReconcile())

	c := f.client(t)
	cfg, _ := json.Marshal(map[string]any{"api_url": api.URL, "token": "tok-echo"})
	require.NoError(t, c.Configure(ctx, "main", cfg))
	req := sdk.InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{"message":"hi"}`), IdempotencyKey: "run-1/notify", Attempt: 1}
	out, err := c.Invoke(ctx, &req)
	require.NoError(t, err)

	r, ok := c.(sdk.Reconciler)
	require.True(t, ok, "the supervised client reconciles")
	ex := &sdk.Exchange{}
	rec, err := r.Reconcile(sdk.WithExchange(ctx, ex), &sdk.ReconcileRequest{InvokeRequest: req, Since: time.Now().Add(-time.Minute)})
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileFound, rec.Status)
	require.JSONEq(t, string(out), string(rec.Output.(json.RawMessage)), "found: the output the send returned")
	require.Contains(t, string(ex.Request()), `"method":"GET"`, "the lookup's exchange crosses the wire for the history")
	require.NotContains(t, string(ex.Request()), "tok-echo", "masked")

	req.IdempotencyKey = "run-2/notify"
	rec, err = r.Reconcile(ctx, &sdk.ReconcileRequest{InvokeRequest: req, Since: time.Now()})
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, rec.Status)

	_, err = r.Reconcile(ctx, &sdk.ReconcileRequest{InvokeRequest: sdk.InvokeRequest{Instance: "main", Action: "echo", Input: json.RawMessage(`{}`)}})
	require.ErrorIs(t, err, sdk.ErrNoReconcile)

	// In-process providers reconcile through the same interface.
	require.NoError(t, f.host.Register("inproc", testplugin.New()))
	ic, err := f.host.Client(ctx, "inproc")
	require.NoError(t, err)
	require.NoError(t, ic.Configure(ctx, "main", cfg))
	req.IdempotencyKey = "run-1/notify"
	rec, err = ic.(sdk.Reconciler).Reconcile(ctx, &sdk.ReconcileRequest{InvokeRequest: req, Since: time.Now().Add(-time.Minute)})
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileFound, rec.Status)
}
