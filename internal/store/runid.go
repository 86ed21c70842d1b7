package store

import (
	"crypto/rand"
	"encoding/binary"
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

// randomBatch is how many IDs' random bits a runIDSource reads from
// crypto/rand at once.
const randomBatch = 64

// runIDSource makes monotonic ULID-style IDs.
type runIDSource struct {
	mu     sync.Mutex
	lastMS uint64
	last   [16]byte
	// pool holds random bits read from crypto/rand ahead of their use, of
	// which the last left bytes are still unused: one read serves
	// randomBatch IDs instead of one.
	pool [randomBatch * 10]byte
	left int
}

// next returns the ID for now, or, when now is not after the previous ID's
// millisecond, the previous ID plus one.
func (s *runIDSource) next(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()

	ms := uint64(now.UnixMilli())
	if ms > s.lastMS || s.lastMS == 0 {
		s.lastMS = ms
		s.random(s.last[6:])
	} else if !increment(s.last[6:]) {
		// The 80 random bits overflowed: move on to the next millisecond.
		s.lastMS++
		s.random(s.last[6:])
	}
	for i := range 6 {
		s.last[i] = byte(s.lastMS >> (40 - 8*i))
	}
	return encodeID(s.last)
}

// random fills b (at most 10 bytes) with random bits from crypto/rand,
// taken from the pool, which it refills when it runs short.
func (s *runIDSource) random(b []byte) {
	if s.left < len(b) {
		rand.Read(s.pool[:]) // never returns an error; it aborts the program instead
		s.left = len(s.pool)
	}
	copy(b, s.pool[len(s.pool)-s.left:])
	s.left -= len(b)
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
// character carries the top three bits. It takes five bits at a time from
// the low end of the number, held in two words.
func encodeID(id [16]byte) string {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	var out [26]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
