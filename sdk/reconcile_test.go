package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// ledger is a provider that records sends by body and reconciles by looking
// them up; its lookup also tries a POST, which the SDK must refuse.
type ledger struct {
	api   string
	since atomic.Int64
}

func (l *ledger) Spec() *sdk.Spec {
	h := sdk.NewHTTP(5 * time.Second)
	return &sdk.Spec{
		Type: "ledger", Version: "0.1.0",
		Config: sdk.Fields(sdk.String("token", "").AsSensitive()),
		Actions: []sdk.Action{
			{
				Name:   "send",
				Input:  sdk.Fields(sdk.String("body", "").AsRequired()),
				Output: sdk.Schema{AdditionalFields: true},
				Run: func(ctx context.Context, call *sdk.Call) (any, error) {
					return nil, sdk.InDoubt(errors.New("response lost"))
				},
				Reconcile: func(ctx context.Context, call *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
					l.since.Store(since.UnixMilli())
					body, _ := call.Input["body"].(string)
					if body == "post" {
						_, err := h.Do(ctx, call, sdk.Request{Method: http.MethodPost, URL: l.api})
						return sdk.Reconciliation{}, err
					}
					if body == "bogus" {
						return sdk.Reconciliation{Status: "maybe"}, nil
					}
					resp, err := h.Do(ctx, call, sdk.Request{Method: http.MethodGet, URL: l.api + "?body=" + body})
					if err != nil {
						return sdk.Reconciliation{}, err
					}
					var found struct{ ID string }
					if err := resp.JSON(&found); err != nil {
						return sdk.Reconciliation{}, err
					}
					switch found.ID {
					case "":
						return sdk.Reconciliation{Status: sdk.ReconcileNotFound}, nil
					case "?":
						return sdk.Reconciliation{Status: sdk.ReconcileUnknown, Detail: "lookup lags"}, nil
					}
					return sdk.Reconciliation{Status: sdk.ReconcileFound, Output: map[string]any{"id": found.ID}, Detail: "message " + found.ID + " token " + call.Config.String("token")}, nil
				},
			},
			{Name: "plain", Input: sdk.Fields(), Output: sdk.Schema{}, Run: func(context.Context, *sdk.Call) (any, error) { return nil, nil }},
		},
	}
}

func TestReconcileOverBothTransports(t *testing.T) {
	t.Parallel()
	var posts atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			posts.Add(1)
		}
		switch r.URL.Query().Get("body") {
		case "sent":
			_, _ = w.Write([]byte(`{"id":"m-1"}`))
		case "lagging":
			_, _ = w.Write([]byte(`{"id":"?"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(api.Close)
	for name, serve := range sdktest.Transports {
		t.Run(name, func(t *testing.T) {
			l := &ledger{api: api.URL}
			client := serve(t, l)
			require.NoError(t, client.Configure(context.Background(), "main", json.RawMessage(`{"token":"tok-secret-9"}`)))
			spec, err := client.Describe(context.Background())
			require.NoError(t, err)
			send, _ := spec.Action("send")
			plain, _ := spec.Action("plain")
			require.True(t, send.CanReconcile(), "describe says send reconciles")
			require.False(t, plain.CanReconcile())
			raw, err := json.Marshal(spec)
			require.NoError(t, err)
			require.Contains(t, string(raw), `"reconcile":true`)

			_, err = client.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{"body":"x"}`)})
			require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "in_doubt survives the transport")

			rc := client.(sdk.Reconciler)
			since := time.UnixMilli(time.Now().UnixMilli())
			ask := func(body string) (*sdk.Reconciliation, error) {
				return rc.Reconcile(context.Background(), &sdk.ReconcileRequest{
					InvokeRequest: sdk.InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{"body":"` + body + `"}`), IdempotencyKey: "k"},
					Since:         since,
				})
			}
			rec, err := ask("sent")
			require.NoError(t, err)
			require.Equal(t, sdk.ReconcileFound, rec.Status)
			require.JSONEq(t, `{"id":"m-1"}`, string(rec.Output.(json.RawMessage)))
			require.Equal(t, "message m-1 token ***", rec.Detail, "detail is masked")
			require.Equal(t, since.UnixMilli(), l.since.Load(), "the handler gets the attempt's start")

			rec, err = ask("never")
			require.NoError(t, err)
			require.Equal(t, sdk.ReconcileNotFound, rec.Status)
			require.Nil(t, rec.Output)

			rec, err = ask("lagging")
			require.NoError(t, err)
			require.Equal(t, sdk.ReconcileUnknown, rec.Status)
			require.Equal(t, "lookup lags", rec.Detail)

			_, err = ask("post")
			require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
			require.Contains(t, err.Error(), "reconcile must send nothing")
			require.Zero(t, posts.Load(), "a POST from a reconcile handler never leaves the SDK")

			_, err = ask("bogus")
			require.ErrorContains(t, err, `status "maybe"`)

			_, err = rc.Reconcile(context.Background(), &sdk.ReconcileRequest{InvokeRequest: sdk.InvokeRequest{Instance: "main", Action: "plain", Input: json.RawMessage(`{}`)}})
			require.ErrorIs(t, err, sdk.ErrNoReconcile)
		})
	}
}

func TestInDoubtKeepsDetails(t *testing.T) {
	t.Parallel()
	inner := sdk.Retryable(errors.New("timeout after write"))
	inner.StatusCode = 504
	e := sdk.InDoubt(inner)
	require.Equal(t, sdk.ClassInDoubt, e.Class)
	require.Equal(t, "timeout after write", e.Message)
	require.Equal(t, 504, e.StatusCode)
	require.Equal(t, "in_doubt error", sdk.InDoubt(nil).Error())
}
