package sdk_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestMergeBody(t *testing.T) {
	t.Parallel()
	base := map[string]any{
		"phone": "1",
		"body":  "hi",
		"meta":  map[string]any{"a": 1, "nested": map[string]any{"x": 1, "y": 2}},
		"list":  []any{1, 2},
	}
	override := map[string]any{
		"quotedMsgId": "q1",
		"body":        "replaced",
		"meta":        map[string]any{"b": 2, "nested": map[string]any{"y": 3}},
		"list":        []any{9},
		"phone":       nil,
	}
	got := sdk.MergeBody(base, override)
	require.Equal(t, map[string]any{
		"phone":       nil,
		"body":        "replaced",
		"quotedMsgId": "q1",
		"meta":        map[string]any{"a": 1, "b": 2, "nested": map[string]any{"x": 1, "y": 3}},
		"list":        []any{9},
	}, got)
	// Neither argument is modified.
	require.Equal(t, "hi", base["body"])
	require.Equal(t, map[string]any{"x": 1, "y": 2}, base["meta"].(map[string]any)["nested"])
	require.NotContains(t, base["meta"], "b")
	require.Equal(t, map[string]any{"y": 3}, override["meta"].(map[string]any)["nested"])
}

func TestMergeBodyObjectOverScalar(t *testing.T) {
	t.Parallel()
	got := sdk.MergeBody(map[string]any{"a": "scalar"}, map[string]any{"a": map[string]any{"b": 1}})
	require.Equal(t, map[string]any{"a": map[string]any{"b": 1}}, got)
	require.Equal(t, map[string]any{"a": 1}, sdk.MergeBody(nil, map[string]any{"a": 1}))
	require.Equal(t, map[string]any{"a": 1}, sdk.MergeBody(map[string]any{"a": 1}, nil))
}
