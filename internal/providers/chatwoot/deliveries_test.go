package chatwoot

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDeliverySetRemembersWithinTTL(t *testing.T) {
	t.Parallel()
	d := newDeliverySet(10, time.Hour)
	t0 := time.Unix(1781082943, 0)
	require.True(t, d.firstSeen("a", t0))
	require.False(t, d.firstSeen("a", t0.Add(59*time.Minute)))
	require.True(t, d.firstSeen("b", t0.Add(59*time.Minute)))
	require.True(t, d.firstSeen("a", t0.Add(time.Hour)), "forgotten after the TTL")
	require.False(t, d.firstSeen("a", t0.Add(time.Hour+time.Second)))
}

func TestDeliverySetIsBounded(t *testing.T) {
	t.Parallel()
	d := newDeliverySet(3, time.Hour)
	t0 := time.Unix(1781082943, 0)
	for i := range 5 {
		require.True(t, d.firstSeen(fmt.Sprint(i), t0))
	}
	require.Equal(t, 3, d.len())
	require.True(t, d.firstSeen("0", t0), "the oldest ids are evicted first")
	require.False(t, d.firstSeen("4", t0))
}

func TestDeliverySetExpiresOldEntries(t *testing.T) {
	t.Parallel()
	d := newDeliverySet(100, time.Minute)
	t0 := time.Unix(1781082943, 0)
	for i := range 50 {
		d.firstSeen(fmt.Sprint(i), t0)
	}
	d.firstSeen("late", t0.Add(2*time.Minute))
	require.Equal(t, 1, d.len(), "expired ids do not linger")
}
