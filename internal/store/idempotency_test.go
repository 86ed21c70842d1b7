package store

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateIdempotencyKey(t *testing.T) {
	t.Parallel()
	longest := strings.Repeat("k", MaxIdempotencyKeyLen)
	for _, key := range []string{"", "api:w:order-1", "delivery:support:été", longest} {
		require.NoError(t, ValidateIdempotencyKey(key, time.Hour), "%.20q", key)
	}
	require.NoError(t, ValidateIdempotencyKey("", 0), "no key needs no ttl")

	invalid := map[string]struct {
		key string
		ttl time.Duration
	}{
		"one byte too long":              {longest + "k", time.Hour},
		"multi-byte rune over the limit": {longest[1:] + "é", time.Hour},
		"not utf-8":                      {"api:w:\xff", time.Hour},
		"nul byte":                       {"api:w:a\x00b", time.Hour},
		"zero ttl":                       {"api:w:k", 0},
		"negative ttl":                   {"api:w:k", -time.Second},
	}
	for name, tt := range invalid {
		require.ErrorIs(t, ValidateIdempotencyKey(tt.key, tt.ttl), ErrInvalid, name)
	}
}
