package sdk_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestMask(t *testing.T) {
	t.Parallel()
	secrets := []string{"s3cr3t/+&=x", "zq9zq"}
	req := sdk.RenderedRequest{
		Method: "POST",
		URL:    "https://api.example.com/instance1/send?token=s3cr3t%2F%2B%26%3Dx&other=zq9zq",
		Header: map[string]string{"Authorization": "Bearer s3cr3t/+&=x", "X-Path": "s3cr3t%2F+&=x", "Accept": "application/json"},
		Body: map[string]any{
			"key":    "s3cr3t/+&=x",
			"nested": map[string]any{"list": []any{"before zq9zq after", 42, true}},
			"plain":  "nothing to hide",
		},
	}
	got := sdk.Mask(req, secrets)
	require.Equal(t, sdk.RenderedRequest{
		Method: "POST",
		URL:    "https://api.example.com/instance1/send?token=***&other=***",
		Header: map[string]string{"Authorization": "Bearer ***", "X-Path": "***", "Accept": "application/json"},
		Body: map[string]any{
			"key":    "***",
			"nested": map[string]any{"list": []any{"before *** after", 42, true}},
			"plain":  "nothing to hide",
		},
	}, got)
	// The input is left alone.
	require.Equal(t, "s3cr3t/+&=x", req.Body.(map[string]any)["key"])
}

func TestMaskLongestSecretFirst(t *testing.T) {
	t.Parallel()
	// "abcd" is inside "abcdefgh": the longer one is masked whole, not as "***efgh".
	require.Equal(t, "x *** y ***", sdk.MaskString("x abcdefgh y abcd", []string{"abcd", "abcdefgh"}))
}

func TestMaskIgnoresValuesTooShortToMask(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a token t and ***", sdk.MaskString("a token t and tokn", []string{"t", "tokn"}))
}

func TestMaskNoSecrets(t *testing.T) {
	t.Parallel()
	req := sdk.RenderedRequest{Method: "GET", URL: "https://x/?a=b"}
	require.Equal(t, req, sdk.Mask(req, nil))
	require.Equal(t, "same", sdk.MaskString("same", []string{""}))
}
