package store

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewRunIDLayout(t *testing.T) {
	t.Parallel()
	id := NewRunID()
	require.Len(t, id, 26)
	for _, c := range id {
		require.Contains(t, crockford, string(c), "id %s", id)
	}
	// The first character carries three bits, so it is at most 7.
	require.LessOrEqual(t, id[0], byte('7'))
}

func TestNewRunIDIncreasesWithinOneProcess(t *testing.T) {
	t.Parallel()
	prev := NewRunID()
	seen := map[string]bool{prev: true}
	for range 10000 {
		id := NewRunID()
		require.Greater(t, id, prev)
		require.False(t, seen[id])
		seen[id] = true
		prev = id
	}
}

func TestRunIDSourceEncodesTime(t *testing.T) {
	t.Parallel()
	var s runIDSource
	at := time.UnixMilli(1_700_000_000_000)
	id := s.next(at)
	require.Equal(t, encodeTimePrefix(t, at), id[:10])

	later := s.next(at.Add(time.Millisecond))
	require.Equal(t, encodeTimePrefix(t, at.Add(time.Millisecond)), later[:10])
	require.Greater(t, later, id)
}

func TestRunIDSourceStaysMonotonicWhenTheClockStepsBack(t *testing.T) {
	t.Parallel()
	var s runIDSource
	at := time.UnixMilli(1_700_000_000_000)
	first := s.next(at)
	second := s.next(at.Add(-time.Hour))
	require.Greater(t, second, first)
	require.Equal(t, first[:10], second[:10], "the time prefix stays at the latest millisecond")
}

func TestRunIDSourceOverflowMovesToTheNextMillisecond(t *testing.T) {
	t.Parallel()
	var s runIDSource
	at := time.UnixMilli(1_700_000_000_000)
	first := s.next(at)
	for i := 6; i < 16; i++ {
		s.last[i] = 0xff
	}
	next := s.next(at)
	require.Greater(t, next, first)
	require.Equal(t, encodeTimePrefix(t, at.Add(time.Millisecond)), next[:10])
}

func TestEncodeIDKnownValues(t *testing.T) {
	t.Parallel()
	require.Equal(t, strings.Repeat("0", 26), encodeID([16]byte{}))
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	require.Equal(t, "7"+strings.Repeat("Z", 25), encodeID(ones))
	var one [16]byte
	one[15] = 1
	require.Equal(t, strings.Repeat("0", 25)+"1", encodeID(one))
}

// encodeTimePrefix returns the ten characters that encode at's millisecond.
func encodeTimePrefix(t *testing.T, at time.Time) string {
	t.Helper()
	var id [16]byte
	ms := uint64(at.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	return encodeID(id)[:10]
}

// TestEncodeIDMatchesTheBitLayout checks encodeID against the layout read
// bit by bit: character i holds bits 5i-2 to 5i+2 of the 128, counted from
// the top, with two zero bits above the number.
func TestEncodeIDMatchesTheBitLayout(t *testing.T) {
	t.Parallel()
	var s runIDSource
	for range 1000 {
		var id [16]byte
		s.random(id[:10])
		s.random(id[10:])
		var want [26]byte
		for i := range want {
			var v byte
			for b := range 5 {
				v <<= 1
				if bit := i*5 + b - 2; bit >= 0 {
					v |= id[bit/8] >> (7 - bit%8) & 1
				}
			}
			want[i] = crockford[v]
		}
		require.Equal(t, string(want[:]), encodeID(id), "%x", id)
	}
}

// TestRunIDSourceDrawsNewRandomBitsEachMillisecond makes IDs in
// successive milliseconds, more than one batch of random bits covers:
// each ID's 80 random bits are new.
func TestRunIDSourceDrawsNewRandomBitsEachMillisecond(t *testing.T) {
	t.Parallel()
	var s runIDSource
	at := time.UnixMilli(1_700_000_000_000)
	seen := map[string]bool{}
	for i := range 3*randomBatch + 1 {
		id := s.next(at.Add(time.Duration(i) * time.Millisecond))
		require.False(t, seen[id[10:]], "random part %s drawn twice", id[10:])
		seen[id[10:]] = true
	}
}
