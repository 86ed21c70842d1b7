package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckJSONDepth(t *testing.T) {
	t.Parallel()
	nest := func(n int) string { return strings.Repeat(`[{"a":`, n) + "1" + strings.Repeat("}]", n) }
	for _, tc := range []struct {
		name, doc string
		offset    int // -1 when within the limit
	}{
		{"flat", `{"a":[1,2,{"b":null}]}`, -1},
		{"at the limit", nest(MaxJSONDepth / 2), -1},
		{"one too deep", "[" + nest(MaxJSONDepth/2) + "]", 296},
		{"too deep", `  ` + strings.Repeat("[", 60_000), 102},
		{"brackets in strings", `{"s":"` + strings.Repeat("[", 500) + `","t":"\"{{{{"}`, -1},
		{"escaped backslash ends a string", `["\\"` + strings.Repeat(",[", 101), 204},
		{"stray closers do not lower the count", strings.Repeat("]", 500) + strings.Repeat("[", 101), 600},
		{"invalid json", strings.Repeat("{", 101), 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSONDepth([]byte(tc.doc))
			if tc.offset < 0 {
				require.NoError(t, err)
				return
			}
			var de *JSONDepthError
			require.True(t, errors.As(err, &de), "%v", err)
			require.Equal(t, tc.offset, de.Offset)
		})
	}
	_, err := DecodeJSON([]byte(strings.Repeat("[", 101) + strings.Repeat("]", 101)))
	require.EqualError(t, err, "JSON nested deeper than 100 levels (at byte 101)")
}
