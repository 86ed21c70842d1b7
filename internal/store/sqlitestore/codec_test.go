package sqlitestore

import (
	"database/sql"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFormatTimeIsTheLayout checks the hand-written time encoding against
// time.Format of timeLayout, at the edges of every field and at random
// times, including years the fixed width cannot hold.
func TestFormatTimeIsTheLayout(t *testing.T) {
	t.Parallel()
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(2026, 12, 7, 9, 5, 3, 4_000, time.UTC),
		time.Date(2026, 3, 29, 7, 0, 0, 123_456_000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(r.Int64N(400_000_000_000)-62_000_000_000, r.Int64N(1e9)).UTC().Truncate(time.Microsecond))
	}
	for _, tm := range times {
		require.Equal(t, tm.Format(timeLayout), formatTime(tm), "%v", tm)
		if tm.Year() >= 0 && tm.Year() <= 9999 {
			back, err := decodeTime(sql.NullString{String: formatTime(tm), Valid: true})
			require.NoError(t, err)
			require.True(t, tm.Equal(back), "%v read back as %v", tm, back)
		}
	}
	local := time.Date(2026, 12, 7, 17, 0, 0, 1_999, time.FixedZone("x", 3600))
	require.Equal(t, "2026-12-07T16:00:00.000001Z", encodeTime(local))
}

// TestTimeMemoIsEncodeTime checks the writer's memo of encoded times against
// encodeTime: the same instant in another zone or with a monotonic reading
// hits, other instants (more than the memo holds, in turns) do not, and the
// zero time is NULL.
func TestTimeMemoIsEncodeTime(t *testing.T) {
	t.Parallel()
	var m timeMemo
	require.Nil(t, m.time(time.Time{}))
	now := time.Now() // with a monotonic reading
	r := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{now, now.UTC(), now.In(time.FixedZone("y", -7200)), now.Add(time.Nanosecond), now.Add(time.Microsecond)}
	for range 500 {
		times = append(times, now.Add(time.Duration(r.Int64N(10))*time.Microsecond))
		times = append(times, time.Unix(r.Int64N(4_000_000_000), r.Int64N(1e9)))
	}
	for _, tm := range times {
		require.Equal(t, encodeTime(tm), m.time(tm), "%v", tm)
	}
}
