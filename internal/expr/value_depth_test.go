package expr

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// nestedValue returns depth lists nested in each other around a template
// that reads secrets.X, under a map key at every other level.
func nestedValue(depth int) any {
	var v any = "{{ secrets.X }}"
	for i := range depth {
		if i%2 == 0 {
			v = []any{v}
		} else {
			v = map[string]any{"k": v}
		}
	}
	return v
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestValueDepthLinear compiles value trees nested 2,000 and 8,000 levels
// deep: the memory compiling takes grows with the depth, not with its
// square, as it did when every level kept its own path string. Not
// parallel: it measures the whole process's allocations.
func TestValueDepthLinear(t *testing.T) {
	c, err := NewCompiler()
	require.NoError(t, err)
	compile := func(depth int) uint64 {
		v := nestedValue(depth)
		return allocated(func() {
			out, errs := c.Value(v, Context{Names: Secrets})
			require.Nil(t, errs)
			refs := out.SecretRefs()
			require.Len(t, refs, 1)
			require.Equal(t, depth/2*len("k[0].")-1, len(refs[0].Path), "the path is built when asked for")
		})
	}
	small, large := compile(2_000), compile(8_000)
	// Linear growth gives a ratio near 4; quadratic near 16.
	ratio := float64(large) / float64(small)
	t.Logf("2,000 levels: %d bytes; 8,000 levels: %d bytes; ratio %.1f", small, large, ratio)
	require.Less(t, ratio, 7.0, "compiling a value tree allocates with the square of its depth")
}

func TestValuePath(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	_, errs := c.Value(map[string]any{
		"to":     map[string]any{"mobile": "{{ nope }}"},
		"params": []any{"x", map[string]any{"y": "{{ 1 + }}"}},
		"top":    "{{ nope }}",
	}, Context{Names: Secrets})
	var paths []string
	for _, e := range errs {
		paths = append(paths, e.Path)
	}
	require.Equal(t, []string{"params[1].y", "to.mobile", "top"}, paths)
}
