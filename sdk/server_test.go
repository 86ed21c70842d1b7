package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// configDump is a provider whose actions expose what the Server hands them.
type configDump struct{}

func (configDump) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "dump",
		Version: "0.1.0",
		Config: sdk.Fields(
			sdk.String("instance_id", "").AsRequired(),
			sdk.String("token", "").AsSensitive().AsRequired(),
			sdk.String("api_url", "").WithDefault("https://api.example.com").Matching(`^https://`),
			sdk.Integer("account_id", ""),
		),
		Actions: []sdk.Action{
			{
				Name:   "config",
				Input:  sdk.Fields(sdk.String("note", "").WithDefault("none")),
				Output: sdk.Schema{AdditionalFields: true},
				Run: func(_ context.Context, call *sdk.Call) (any, error) {
					return map[string]any{"config": call.Config, "input": call.Input, "attempt": call.Attempt, "key": call.IdempotencyKey}, nil
				},
			},
			{
				Name:   "leak",
				Input:  sdk.Fields(),
				Output: sdk.Schema{},
				Run: func(_ context.Context, call *sdk.Call) (any, error) {
					return nil, sdk.Permanent(fmt.Errorf("login with %s failed", call.Config.String("token")))
				},
			},
			{
				Name:   "panic",
				Input:  sdk.Fields(),
				Output: sdk.Schema{},
				Run:    func(context.Context, *sdk.Call) (any, error) { panic("boom") },
			},
		},
	}
}

func newDump(t *testing.T) *sdk.Server {
	t.Helper()
	s := sdk.NewServer(configDump{}, nil)
	require.NoError(t, s.Configure(context.Background(), "main", json.RawMessage(`{"instance_id":"12345","token":"tok-secret"}`)))
	return s
}

func invokeConfig(t *testing.T, s *sdk.Server, override string) (map[string]any, error) {
	t.Helper()
	req := &sdk.InvokeRequest{Instance: "main", Action: "config", Input: json.RawMessage(`{}`), Attempt: 2, IdempotencyKey: "run1/step1/0"}
	if override != "" {
		req.ConfigOverride = json.RawMessage(override)
	}
	out, err := s.Invoke(context.Background(), req)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	require.NoError(t, json.Unmarshal(out, &v))
	return v, nil
}

func TestServerConfigureValidatesAndAppliesDefaults(t *testing.T) {
	t.Parallel()
	s := sdk.NewServer(configDump{}, nil)
	err := s.Configure(context.Background(), "main", json.RawMessage(`{"token":"t","bogus":1}`))
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "instance_id", e.Field, "Field is the first problem")
	require.Contains(t, e.Message, "instance_id: required field is missing")
	require.Contains(t, e.Message, "bogus: unknown field")

	err = s.Configure(context.Background(), "", json.RawMessage(`{}`))
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
	err = s.Configure(context.Background(), "main", json.RawMessage(`[1]`))
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)

	_, err = s.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "config"})
	require.ErrorIs(t, err, sdk.ErrUnknownInstance, "a failed Configure stores nothing")

	require.NoError(t, s.Configure(context.Background(), "main", json.RawMessage(`{"instance_id":"12345","token":"tok-secret"}`)))
	out, err := invokeConfig(t, s, "")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"instance_id": "12345", "token": "***", "api_url": "https://api.example.com"}, out["config"],
		"defaults are applied and the sensitive value is masked in the output")
	require.Equal(t, map[string]any{"note": "none"}, out["input"], "input defaults are applied")
	require.Equal(t, float64(2), out["attempt"])
	require.Equal(t, "run1/step1/0", out["key"])
}

func TestServerConfigOverride(t *testing.T) {
	t.Parallel()
	s := newDump(t)

	out, err := invokeConfig(t, s, `{"instance_id":"67890","api_url":"https://eu.example.com"}`)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"instance_id": "67890", "token": "***", "api_url": "https://eu.example.com"}, out["config"])

	out, err = invokeConfig(t, s, "")
	require.NoError(t, err)
	require.Equal(t, "12345", out["config"].(map[string]any)["instance_id"], "an override lasts for one call")

	out, err = invokeConfig(t, s, "null")
	require.NoError(t, err)
	require.Equal(t, "12345", out["config"].(map[string]any)["instance_id"])

	_, err = invokeConfig(t, s, `{"api_url":"http://plain.example.com"}`)
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "api_url", e.Field)
	require.Contains(t, e.Message, "invalid config override")

	_, err = invokeConfig(t, s, `{"tokn":"x"}`)
	require.Equal(t, "tokn", sdk.AsError(err).Field)

	_, err = invokeConfig(t, s, `{"account_id":"x","token":"other-secret"}`)
	e = sdk.AsError(err)
	require.Equal(t, "account_id", e.Field)
	require.NotContains(t, e.Error(), "other-secret")

	_, err = invokeConfig(t, s, `"not an object"`)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
}

func TestServerInvokeErrors(t *testing.T) {
	t.Parallel()
	s := newDump(t)
	ctx := context.Background()

	_, err := s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "send"})
	require.ErrorIs(t, err, sdk.ErrUnknownAction)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
	require.Contains(t, err.Error(), `"send"`)
	require.Contains(t, err.Error(), "config, leak, panic")

	_, err = s.Invoke(ctx, &sdk.InvokeRequest{Instance: "other", Action: "config"})
	require.ErrorIs(t, err, sdk.ErrUnknownInstance)

	_, err = s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "config", Input: json.RawMessage(`{"note":5}`)})
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "note", e.Field)

	_, err = s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "leak"})
	require.Equal(t, "login with *** failed", sdk.AsError(err).Message, "secrets are masked in handler errors")

	_, err = s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "panic"})
	e = sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Contains(t, e.Message, "panicked in panic: boom")
	_, err = invokeConfig(t, s, "")
	require.NoError(t, err, "the server survives a panicking handler")
}

func TestServerCapabilitiesAndNoWebhooks(t *testing.T) {
	t.Parallel()
	s := newDump(t)
	spec, err := s.Describe(context.Background())
	require.NoError(t, err)
	require.Empty(t, spec.Capabilities)
	_, err = s.HandleWebhook(context.Background(), &sdk.WebhookRequest{Instance: "main"})
	require.True(t, errors.Is(err, sdk.ErrNoWebhooks))
	require.NoError(t, s.Health(context.Background()))
}

// TestServerReconfiguredInstanceMasksItsNewSecret checks that a call
// without an override is masked with its instance's current secrets: the
// Server keeps each instance's Masker, and a new Configure replaces it.
func TestServerReconfiguredInstanceMasksItsNewSecret(t *testing.T) {
	t.Parallel()
	s := newDump(t)
	ctx := context.Background()
	_, err := s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "leak"})
	require.Equal(t, "login with *** failed", sdk.AsError(err).Message)

	require.NoError(t, s.Configure(ctx, "main", json.RawMessage(`{"instance_id":"12345","token":"tok-rotated"}`)))
	_, err = s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "leak"})
	require.Equal(t, "login with *** failed", sdk.AsError(err).Message, "the new token is masked")

	_, err = s.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "leak", ConfigOverride: json.RawMessage(`{"token":"tok-override"}`)})
	require.Equal(t, "login with *** failed", sdk.AsError(err).Message, "an override's token is masked")
}
