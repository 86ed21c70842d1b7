package expr_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/expr"
)

func TestEventKeyFindsTheCorrelation(t *testing.T) {
	t.Parallel()
	c, err := expr.NewCompiler()
	require.NoError(t, err)
	for _, tc := range []struct {
		src   string
		path  []string
		other string
	}{
		{"event.id == steps.page.output.id", []string{"id"}, "steps.page.output.id"},
		{"event.status == 'viewed' && steps.page.output.id == event.msg.id", []string{"msg", "id"}, "steps.page.output.id"},
		{"event.status == 'viewed'", []string{"status"}, `"viewed"`},
		{"event.ack.id == vars.x + '1' && event.status == 'viewed'", []string{"ack", "id"}, `vars.x + "1"`},
		{"event.id == event.other", nil, ""},
		{"event.id != steps.a.output.id", nil, ""},
		{"event.id == 'a' || event.id == 'b'", nil, ""},
		{"has(event.id)", nil, ""},
	} {
		path, other, ok := c.EventKey(tc.src)
		require.Equal(t, tc.path != nil, ok, tc.src)
		require.Equal(t, tc.path, path, tc.src)
		require.Equal(t, tc.other, other, tc.src)
	}
}
