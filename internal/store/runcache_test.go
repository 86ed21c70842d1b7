package store_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestRunCacheIsBounded: the cache keeps at most MaxCachedRuns runs, owns
// the bytes of what it keeps, never goes back to an older version, and
// forgets a run once it is final.
func TestRunCacheIsBounded(t *testing.T) {
	t.Parallel()
	var c store.RunCache
	for i := range store.MaxCachedRuns + 10 {
		c.Put(store.Run{ID: fmt.Sprintf("r%d", i), Status: store.StatusRunning}, 1)
	}
	require.Equal(t, store.MaxCachedRuns, c.Len())
	run := store.Run{ID: "x", Status: store.StatusRunning, Trigger: json.RawMessage(`{"a":1}`)}
	c.Put(run, 3)
	run.Trigger[5] = '2' // the caller's bytes are not the cache's
	got, version, ok := c.Get("x")
	require.True(t, ok)
	require.Equal(t, int64(3), version)
	require.JSONEq(t, `{"a":1}`, string(got.Trigger))
	c.Put(store.Run{ID: "x", Status: store.StatusRunning}, 2)
	_, version, _ = c.Get("x")
	require.Equal(t, int64(3), version, "an older version does not replace a newer one")
	c.Put(store.Run{ID: "x", Status: store.StatusSucceeded}, 4)
	_, _, ok = c.Get("x")
	require.False(t, ok, "a final run is forgotten")
	c.Put(store.Run{ID: "y", Status: store.StatusRunning}, 1)
	c.Drop("y")
	_, _, ok = c.Get("y")
	require.False(t, ok)
}
