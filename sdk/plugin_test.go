package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// failer fails each action with one kind of error, to check what survives
// the gRPC transport.
type failer struct{}

func (failer) Spec() *sdk.Spec {
	action := func(name string, err error) sdk.Action {
		return sdk.Action{Name: name, Input: sdk.Schema{AdditionalFields: true}, Output: sdk.Schema{AdditionalFields: true},
			Run: func(context.Context, *sdk.Call) (any, error) { return nil, err }}
	}
	status := sdk.Permanent(errors.New("provider answered HTTP 404: no such chat"))
	status.StatusCode = 404
	return &sdk.Spec{
		Type:        "failer",
		Version:     "2.0.0",
		Description: "Fails on purpose.",
		Config:      sdk.Fields(sdk.String("token", "API token.").AsSensitive()),
		Actions: []sdk.Action{
			action("retryable", sdk.Retryable(errors.New("upstream 503"))),
			action("permanent", sdk.InvalidInput("to.mobile", "must be digits")),
			action("rate_limited", sdk.RateLimited(1500*time.Millisecond, errors.New("slow down"))),
			action("status", status),
			action("unclassified", errors.New("something odd")),
			{
				Name:           "echo",
				Input:          sdk.Schema{AdditionalFields: true},
				Output:         sdk.Schema{AdditionalFields: true},
				RecipientLimit: &sdk.RecipientLimit{Rate: "1/6s", Expr: "input.to"},
				Run:            func(_ context.Context, call *sdk.Call) (any, error) { return call.Input, nil },
			},
			{
				Name:   "wait",
				Input:  sdk.Fields(),
				Output: sdk.Fields(),
				Run: func(ctx context.Context, _ *sdk.Call) (any, error) {
					<-ctx.Done()
					return nil, sdk.Retryable(ctx.Err())
				},
			},
		},
		Limits: &sdk.Limits{Rate: "80/s", Burst: 5, Source: "https://example.com/limits"},
		Events: []sdk.EventSpec{{Name: "failer.alarm", Description: "An alarm.", Data: &sdk.Schema{Fields: []sdk.Field{sdk.Integer("level", "")}}}},
	}
}

func (failer) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	if req.Header.Get("X-Sig") != "good" {
		return nil, sdk.Unverified("bad signature %q", req.Header.Get("X-Sig"))
	}
	return []sdk.Event{{Type: "failer.alarm", ID: req.Query.Get("id"), Data: req.Body}}, nil
}

func (failer) Health(context.Context) error { return errors.New("upstream is down") }

func serveFailer(t *testing.T) sdk.Client {
	t.Helper()
	c := sdktest.Serve(t, failer{})
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{"token":"failer-secret-token"}`)))
	return c
}

func TestErrorClassesSurviveGRPC(t *testing.T) {
	t.Parallel()
	c := serveFailer(t)
	invoke := func(action string) *sdk.Error {
		_, err := c.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: action, Input: json.RawMessage(`{}`)})
		require.Error(t, err)
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		return e
	}
	require.Equal(t, &sdk.Error{Class: sdk.ClassRetryable, Message: "upstream 503"}, invoke("retryable"))
	require.Equal(t, &sdk.Error{Class: sdk.ClassPermanent, Field: "to.mobile", Message: "must be digits"}, invoke("permanent"))
	require.Equal(t, &sdk.Error{Class: sdk.ClassRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, invoke("rate_limited"))
	require.Equal(t, &sdk.Error{Class: sdk.ClassPermanent, Message: "provider answered HTTP 404: no such chat", StatusCode: 404}, invoke("status"))
	require.Equal(t, &sdk.Error{Class: sdk.ClassRetryable, Message: "something odd"}, invoke("unclassified"),
		"an error no provider classified is retryable")

	err := c.Configure(context.Background(), "bad", json.RawMessage(`{"token":5}`))
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "token", e.Field)

	require.Equal(t, sdk.ClassRetryable, sdk.AsError(c.Health(context.Background())).Class)
	require.Contains(t, c.Health(context.Background()).Error(), "upstream is down")
}

func TestValuesSurviveGRPC(t *testing.T) {
	t.Parallel()
	c := serveFailer(t)
	// Ids beyond 2^53 must not pass through a float64.
	in := `{"conversation_id":9007199254740993,"nested":{"list":[1.5,"x",null,true]}}`
	out, err := c.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "echo", Input: json.RawMessage(in)})
	require.NoError(t, err)
	require.JSONEq(t, in, string(out))
	require.Contains(t, string(out), "9007199254740993")
}

func TestDescribeSurvivesGRPC(t *testing.T) {
	t.Parallel()
	c := serveFailer(t)
	got, err := c.Describe(context.Background())
	require.NoError(t, err)
	want, err := sdk.NewServer(failer{}, nil).Describe(context.Background())
	require.NoError(t, err)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	require.JSONEq(t, string(wantJSON), string(gotJSON))
	require.Equal(t, []string{"webhook", "health"}, got.Capabilities)
	require.Equal(t, []string{"token"}, got.Config.SensitiveFields())
	ev, ok := got.Event("failer.alarm")
	require.True(t, ok)
	require.Equal(t, sdk.TypeInteger, ev.Data.Fields[0].Type)
	require.Equal(t, &sdk.Limits{Rate: "80/s", Burst: 5, Source: "https://example.com/limits"}, got.Limits)
	echo, _ := got.Action("echo")
	require.Equal(t, &sdk.RecipientLimit{Rate: "1/6s", Expr: "input.to"}, echo.RecipientLimit)
	status, _ := got.Action("status")
	require.Nil(t, status.RecipientLimit, "an action without a recipient limit declares none")
}

func TestWebhookSurvivesGRPC(t *testing.T) {
	t.Parallel()
	c := serveFailer(t)
	req := &sdk.WebhookRequest{
		Instance: "main",
		Method:   http.MethodPost,
		Header:   http.Header{"X-Sig": {"good"}},
		Query:    map[string][]string{"id": {"d-1"}},
		Body:     []byte(`{"level":3}`),
	}
	events, err := c.HandleWebhook(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, []sdk.Event{{Type: "failer.alarm", ID: "d-1", Data: json.RawMessage(`{"level":3}`)}}, events)

	req.Header.Set("X-Sig", "forged")
	_, err = c.HandleWebhook(context.Background(), req)
	var uv *sdk.UnverifiedError
	require.ErrorAs(t, err, &uv)
	require.Equal(t, `bad signature "forged"`, uv.Reason)
}

func TestCancellationCrossesGRPC(t *testing.T) {
	t.Parallel()
	c := serveFailer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "wait"})
	require.Less(t, time.Since(start), 5*time.Second)
	// Either side may notice the deadline first: the client (context error;
	// in doubt, since the plugin may have sent the request by then) or the
	// plugin's handler (its error, carried over the wire).
	require.Contains(t, []sdk.ErrorClass{sdk.ClassRetryable, sdk.ClassInDoubt}, sdk.AsError(err).Class)
	require.Contains(t, err.Error(), "context deadline exceeded")
}
