package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxIdempotencyKeyLen is the longest idempotency key, in bytes, that
// CreateRun takes. It leaves room for a scope such as "api:<workflow>:" in
// front of a client's key of up to 255 bytes, and stays far below what
// PostgreSQL can index.
const MaxIdempotencyKeyLen = 512

// ValidateIdempotencyKey reports an ErrInvalid error when CreateRun cannot
// take key with ttl: a key longer than MaxIdempotencyKeyLen, one that is not
// UTF-8 or holds a NUL byte (which PostgreSQL cannot store), or a key
// without a positive ttl. An empty key asks for no de-duplication and is
// valid with any ttl.
func ValidateIdempotencyKey(key string, ttl time.Duration) error {
	switch {
	case key == "":
		return nil
	case len(key) > MaxIdempotencyKeyLen:
		return fmt.Errorf("%w: idempotency key is %d bytes, longer than %d", ErrInvalid, len(key), MaxIdempotencyKeyLen)
	case !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: idempotency key is not UTF-8 text without NUL bytes", ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("%w: idempotency key ttl %s is not positive", ErrInvalid, ttl)
	}
	return nil
}
