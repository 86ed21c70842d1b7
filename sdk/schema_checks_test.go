package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

func TestStringOrInteger(t *testing.T) {
	t.Parallel()
	s := sdk.Fields(sdk.StringOrInteger("chat_id", "chat").Matching(`^@[a-z_]+$`).AtLeast(-1e13).AtMost(1e13))
	for _, ok := range []any{"@channel", int64(-1001234567890), 42, json.Number("7"), float64(12)} {
		require.Empty(t, s.Validate(map[string]any{"chat_id": ok}, sdk.ValidateOptions{}), "%#v", ok)
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{true, "chat_id: must be a string or an integer, got boolean"},
		{1.5, "chat_id: must be a string or an integer, got number"},
		{"channel", `chat_id: "channel" does not match ^@[a-z_]+$`},
		{int64(-1e14), "chat_id: -100000000000000 is below the minimum -1e+13"},
		{json.Number("20000000000000"), "chat_id: 20000000000000 is above the maximum 1e+13"},
	} {
		require.Equal(t, []string{tc.want}, messages(s.Validate(map[string]any{"chat_id": tc.v}, sdk.ValidateOptions{})), "%#v", tc.v)
	}
	js := s.JSONSchema()["properties"].(map[string]any)["chat_id"].(map[string]any)
	require.Equal(t, []string{"string", "integer"}, js["type"])
	require.Equal(t, -1e13, js["minimum"])
	require.Equal(t, 1e13, js["maximum"])
}

func TestBoundsAndLengths(t *testing.T) {
	t.Parallel()
	s := sdk.Fields(
		sdk.Integer("ttl", "seconds").AtLeast(1).AtMost(86400),
		sdk.Number("ratio", "share").AtLeast(0).AtMost(1),
		sdk.String("text", "body").WithLength(1, 5),
		sdk.Array("to", "recipients", sdk.String("", "phone")).WithLength(1, -1),
	)
	require.Empty(t, s.Validate(map[string]any{"ttl": 60, "ratio": 0.5, "text": "héllo", "to": []any{"1"}}, sdk.ValidateOptions{}), "five characters, six bytes")
	require.Equal(t, []string{
		"ttl: 0 is below the minimum 1",
		"ratio: 1.5 is above the maximum 1",
		"text: has 6 characters, more than the maximum 5",
		"to: has 0 elements, fewer than the minimum 1",
	}, messages(s.Validate(map[string]any{"ttl": 0, "ratio": 1.5, "text": "héllo!", "to": []any{}}, sdk.ValidateOptions{})))
	require.Equal(t, []string{"text: has 0 characters, fewer than the minimum 1"},
		messages(s.Validate(map[string]any{"text": ""}, sdk.ValidateOptions{})))
	dynamic := sdk.ValidateOptions{Dynamic: func(v any) bool { s, ok := v.(string); return ok && strings.Contains(s, "{{") }}
	require.Empty(t, s.Validate(map[string]any{"text": "{{ input.a_long_template }}"}, dynamic), "templates are checked when rendered")

	js := s.JSONSchema()["properties"].(map[string]any)
	require.Equal(t, 5, js["text"].(map[string]any)["maxLength"])
	require.Equal(t, 1, js["to"].(map[string]any)["minItems"])
	require.NotContains(t, js["to"].(map[string]any), "maxItems")
}

var errLuhn = errors.New("fails the Luhn check")

func luhn(v any) error {
	s, _ := v.(string)
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 != 0 {
		return errLuhn
	}
	return nil
}

func TestCheckedRunsAfterTheDeclarativeChecks(t *testing.T) {
	t.Parallel()
	calls := 0
	s := sdk.Fields(sdk.String("card", "number").Matching(`^[0-9]+$`).Checked(func(v any) error { calls++; return luhn(v) }))
	require.Empty(t, s.Validate(map[string]any{"card": "79927398713"}, sdk.ValidateOptions{}))
	require.Equal(t, []string{"card: fails the Luhn check"}, messages(s.Validate(map[string]any{"card": "79927398710"}, sdk.ValidateOptions{})))
	require.Equal(t, 2, calls)
	require.Equal(t, []string{`card: "x1" does not match ^[0-9]+$`}, messages(s.Validate(map[string]any{"card": "x1"}, sdk.ValidateOptions{})))
	require.Equal(t, 2, calls, "not called when a declarative check failed")
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.NotContains(t, string(b), "check", "a Go validator does not cross the wire")
}

// checkedProvider has one action whose input carries a Go validator.
type checkedProvider struct{}

func (checkedProvider) Spec() *sdk.Spec {
	return &sdk.Spec{Type: "checked", Version: "1.0.0", Actions: []sdk.Action{{
		Name:   "pay",
		Input:  sdk.Fields(sdk.String("card", "number").AsRequired().Checked(luhn)),
		Output: sdk.Schema{AdditionalFields: true},
		Run:    func(context.Context, *sdk.Call) (any, error) { return map[string]any{"paid": true}, nil },
	}}}
}

// TestCheckedRejectsAtInvoke checks that a Go validator runs in the plugin
// before the handler, over either transport, as a permanent error naming the
// field.
func TestCheckedRejectsAtInvoke(t *testing.T) {
	t.Parallel()
	for name, serve := range sdktest.Transports {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, checkedProvider{})
			ctx := context.Background()
			require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))
			_, err := c.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "pay", Input: json.RawMessage(`{"card":"79927398710"}`), Attempt: 1})
			var perr *sdk.Error
			require.ErrorAs(t, err, &perr)
			require.Equal(t, sdk.ClassPermanent, perr.Class)
			require.Contains(t, err.Error(), "card: fails the Luhn check")
			res, err := c.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "pay", Input: json.RawMessage(`{"card":"79927398713"}`), Attempt: 1})
			require.NoError(t, err)
			require.JSONEq(t, `{"paid":true}`, string(res))
		})
	}
}
