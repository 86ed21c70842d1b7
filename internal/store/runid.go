package store

import (
	"crypto/rand"
	"sync"
	"time"
)

// crockford is the Crockford base32 alphabet, which sorts like the numbers it
// encodes.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// runIDs is the process-wide source behind NewRunID.
var runIDs runIDSource

// NewRunID returns a new run ID: 26 characters in the ULID layout, a
// millisecond timestamp followed by 80 random bits from crypto/rand, encoded
// in Crockford base32. IDs sort by creation time, and IDs made by one process
// increase strictly even within a millisecond or when the clock steps back.
func NewRunID() string {
	return runIDs.next(time.Now())
}

// runIDSource makes monotonic ULID-style IDs.
type runIDSource struct {
	mu     sync.Mutex
	lastMS uint64
	last   [16]byte
}

// next returns the ID for now, or, when now is not after the previous ID's
// millisecond, the previous ID plus one.
func (s *runIDSource) next(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()

	ms := uint64(now.UnixMilli())
	if ms > s.lastMS || s.lastMS == 0 {
		s.lastMS = ms
		rand.Read(s.last[6:]) // never returns an error; it aborts the program instead
	} else if !increment(s.last[6:]) {
		// The 80 random bits overflowed: move on to the next millisecond.
		s.lastMS++
		rand.Read(s.last[6:])
	}
	for i := range 6 {
		s.last[i] = byte(s.lastMS >> (40 - 8*i))
	}
	return encodeID(s.last)
}

// increment adds one to the big-endian number b and reports whether it did
// not overflow.
func increment(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

// encodeID encodes 128 bits as 26 Crockford base32 characters; the first
// character carries the top three bits.
func encodeID(id [16]byte) string {
	var out [26]byte
	for i := range out {
		var v byte
		for b := range 5 {
			v <<= 1
			if bit := i*5 + b - 2; bit >= 0 {
				v |= id[bit/8] >> (7 - bit%8) & 1
			}
		}
		out[i] = crockford[v]
	}
	return string(out[:])
}
