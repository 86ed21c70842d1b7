package sdk_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// messages flattens field errors to "path: message" strings.
func messages(errs []*sdk.FieldError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

func TestSchemaValidate(t *testing.T) {
	t.Parallel()
	schema := sdk.Schema{
		Fields: []sdk.Field{
			sdk.String("phone", "").Matching(`^[0-9]+$`),
			sdk.String("chat_id", ""),
			sdk.String("body", "").AsRequired(),
			sdk.Integer("count", ""),
			sdk.Number("ratio", ""),
			sdk.Bool("private", ""),
			sdk.String("kind", "").OneOf("text", "image"),
			sdk.Object("to", "", sdk.String("mobile", "").AsRequired(), sdk.String("name", "")),
			sdk.Array("params", "", sdk.String("", "")),
			sdk.Array("files", "", sdk.Object("", "", sdk.String("link", "").AsRequired())),
			sdk.Map("attributes", ""),
			sdk.Any("anything", ""),
		},
		ExactlyOneOf: [][]string{{"phone", "chat_id"}},
	}
	tests := []struct {
		name  string
		input map[string]any
		want  []string
	}{
		{"valid minimal", map[string]any{"phone": "123", "body": "hi"}, nil},
		{"valid everything", map[string]any{
			"chat_id": "1@c.us", "body": "hi", "count": 3, "ratio": 0.5, "private": true, "kind": "text",
			"to": map[string]any{"mobile": "1"}, "params": []any{"a", "b"},
			"files":      []any{map[string]any{"link": "https://x"}},
			"attributes": map[string]any{"free": []any{1}}, "anything": []any{"x"},
		}, nil},
		{"required missing", map[string]any{"phone": "1"}, []string{"body: required field is missing"}},
		{"required null counts as missing", map[string]any{"phone": "1", "body": nil}, []string{"body: required field is missing"}},
		{"unknown field suggests the known ones", map[string]any{"phone": "1", "body": "x", "bdy": "x"}, []string{
			"bdy: unknown field; expected one of phone, chat_id, body, count, ratio, private, kind, to, params, files, attributes, anything",
		}},
		{"wrong types", map[string]any{"phone": 1, "body": true, "count": "3", "ratio": "x", "private": "yes", "params": "a", "to": "x"}, []string{
			"phone: must be a string, got integer",
			"body: must be a string, got boolean",
			"count: must be an integer, got string",
			"ratio: must be a number, got string",
			"private: must be a boolean, got string",
			"to: must be an object, got string",
			"params: must be a list, got string",
		}},
		{"integer rejects a fraction", map[string]any{"phone": "1", "body": "x", "count": 1.5}, []string{"count: must be an integer, got number"}},
		{"enum", map[string]any{"phone": "1", "body": "x", "kind": "video"}, []string{`kind: must be one of text, image, got "video"`}},
		{"pattern", map[string]any{"phone": "+1", "body": "x"}, []string{`phone: "+1" does not match ^[0-9]+$`}},
		{"nested object", map[string]any{"phone": "1", "body": "x", "to": map[string]any{"name": "a", "extra": 1}}, []string{
			"to.mobile: required field is missing",
			"to.extra: unknown field; expected one of mobile, name",
		}},
		{"array elements", map[string]any{"phone": "1", "body": "x", "params": []any{"a", 2, nil}, "files": []any{map[string]any{}}}, []string{
			"params[1]: must be a string, got integer",
			"params: element 2 is null",
			"files[0].link: required field is missing",
		}},
		{"exactly one of: none", map[string]any{"body": "x"}, []string{"phone: exactly one of phone, chat_id must be set, but none is set"}},
		{"exactly one of: both", map[string]any{"phone": "1", "chat_id": "c", "body": "x"}, []string{"phone: exactly one of phone, chat_id must be set, but phone and chat_id are both set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, nilIfEmpty(messages(schema.Validate(tc.input, sdk.ValidateOptions{}))))
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestSchemaValidateNumbers(t *testing.T) {
	t.Parallel()
	schema := sdk.Fields(sdk.Integer("id", ""), sdk.Number("amount", ""))
	valid := []map[string]any{
		{"id": json.Number("9007199254740993"), "amount": json.Number("1.25")},
		{"id": int64(9007199254740993), "amount": float64(3)},
		{"id": 7, "amount": 7},
		{"id": float64(42), "amount": json.Number("42")},
		{"id": uint32(5), "amount": float32(0.5)},
	}
	for _, v := range valid {
		require.Empty(t, schema.Validate(v, sdk.ValidateOptions{}), "%#v", v)
	}
	invalid := map[string]map[string]any{
		"id: must be an integer, got number":    {"id": json.Number("1.5")},
		"id: must be an integer, got string":    {"id": "12"},
		"amount: must be a number, got boolean": {"amount": true},
		"id: must be an integer, got uint64":    {"id": uint64(1 << 63)},
	}
	for want, v := range invalid {
		require.Equal(t, []string{want}, messages(schema.Validate(v, sdk.ValidateOptions{})), "%#v", v)
	}
}

func TestSchemaValidateDynamic(t *testing.T) {
	t.Parallel()
	schema := sdk.Schema{
		Fields: []sdk.Field{
			sdk.String("phone", "").Matching(`^[0-9]+$`),
			sdk.String("chat_id", ""),
			sdk.Integer("count", "").AsRequired(),
			sdk.String("kind", "").OneOf("a", "b"),
		},
		ExactlyOneOf: [][]string{{"phone", "chat_id"}},
	}
	template := func(v any) bool {
		s, ok := v.(string)
		return ok && strings.Contains(s, "{{")
	}
	opts := sdk.ValidateOptions{Dynamic: template}
	// Templates pass type, pattern and enum checks...
	require.Empty(t, schema.Validate(map[string]any{"phone": "{{ vars.phone }}", "count": "{{ 1 + 1 }}", "kind": "{{ vars.kind }}"}, opts))
	// ...but still count as present for ExactlyOneOf,
	require.Equal(t, []string{"phone: exactly one of phone, chat_id must be set, but phone and chat_id are both set"},
		messages(schema.Validate(map[string]any{"phone": "{{ a }}", "chat_id": "{{ b }}", "count": 1}, opts)))
	// and a literal is still checked.
	require.Equal(t, []string{`phone: "x" does not match ^[0-9]+$`}, messages(schema.Validate(map[string]any{"phone": "x", "count": 1}, opts)))
	// Without Dynamic, a template is just a string.
	require.Equal(t, []string{"count: must be an integer, got string"}, messages(schema.Validate(map[string]any{"phone": "1", "count": "{{ 1 }}"}, sdk.ValidateOptions{})))
}

func TestSchemaApplyDefaults(t *testing.T) {
	t.Parallel()
	schema := sdk.Fields(sdk.String("api_url", "").WithDefault("https://api.example.com"), sdk.String("token", ""))
	in := map[string]any{"token": "t"}
	out := schema.ApplyDefaults(in)
	require.Equal(t, map[string]any{"token": "t", "api_url": "https://api.example.com"}, out)
	require.Equal(t, map[string]any{"token": "t"}, in, "the input is not modified")
	require.Equal(t, "https://other", schema.ApplyDefaults(map[string]any{"api_url": "https://other"})["api_url"])
}

// TestSchemaWithDefaultsIsApplyDefaults holds the Server's copy-free
// withDefaults to ApplyDefaults, and checks that an input lacking no
// defaulted field is taken as it is.
func TestSchemaWithDefaultsIsApplyDefaults(t *testing.T) {
	t.Parallel()
	schema := sdk.Fields(sdk.String("api_url", "").WithDefault("https://api.example.com"), sdk.String("token", ""),
		sdk.Integer("n", "").WithDefault(3))
	for _, in := range []map[string]any{
		{}, {"token": "t"}, {"api_url": "x"}, {"api_url": "x", "n": 1}, {"api_url": nil, "n": 1, "token": "t"}, {"other": true},
	} {
		require.Equal(t, schema.ApplyDefaults(in), sdk.SchemaWithDefaults(schema, in), "input %v", in)
	}
	in := map[string]any{"api_url": "x", "n": 1}
	require.Equal(t, reflect.ValueOf(in).Pointer(), reflect.ValueOf(sdk.SchemaWithDefaults(schema, in)).Pointer())
	none := sdk.Fields(sdk.String("token", ""))
	in = map[string]any{}
	require.Equal(t, reflect.ValueOf(in).Pointer(), reflect.ValueOf(sdk.SchemaWithDefaults(none, in)).Pointer())
}
