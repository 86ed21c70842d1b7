package cluster

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestHandedIsBounded: handed keeps at most maxHanded runs and
// maxHandedBytes of their triggers and inputs, the oldest going first, and
// neither final nor oversized runs.
func TestHandedIsBounded(t *testing.T) {
	var h handed
	run := func(i, body int) store.Run {
		return store.Run{ID: "r" + strconv.Itoa(i), Status: store.StatusQueued,
			Trigger: json.RawMessage(`"` + strings.Repeat("x", body) + `"`)}
	}
	for i := range maxHanded + 10 {
		h.put(run(i, 10))
	}
	require.Len(t, h.runs, maxHanded)
	_, ok := h.take("r0")
	require.False(t, ok, "the oldest went first")
	got, ok := h.take("r" + strconv.Itoa(maxHanded+9))
	require.True(t, ok)
	require.Equal(t, run(maxHanded+9, 10), got)
	_, ok = h.take("r" + strconv.Itoa(maxHanded+9))
	require.False(t, ok, "taken once")

	big := maxHandedBytes / 32
	for i := range 100 {
		h.put(run(10_000+i, big))
	}
	require.LessOrEqual(t, h.bytes, maxHandedBytes)
	_, ok = h.take("r10099")
	require.True(t, ok, "the newest stays")
	_, ok = h.take("r10000")
	require.False(t, ok, "the oldest went for the bytes")

	h.put(run(20_000, maxHandedBytes/8))
	_, ok = h.take("r20000")
	require.False(t, ok, "too big to keep")
	final := run(20_001, 1)
	final.Status = store.StatusSucceeded
	h.put(final)
	_, ok = h.take("r20001")
	require.False(t, ok, "final: never executed")

	sum := 0
	for _, r := range h.runs {
		sum += size(r)
	}
	require.Equal(t, sum, h.bytes)
}
