package storetest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// day is the idempotency window of the HTTP API.
const day = 24 * time.Hour

// testIdempotency checks CreateRun with idempotency keys and PurgeExpiredKeys.
func testIdempotency(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("RepeatReturnsTheFirstRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := newRun("w", 0)
		got, existed, err := b.s.CreateRun(b.ctx, first, "api:w:order-1", day)
		require.NoError(t, err)
		require.False(t, existed)
		requireRun(t, first, got)

		repeat := newRun("w", time.Hour)
		got, existed, err = b.s.CreateRun(b.ctx, repeat, "api:w:order-1", day)
		require.NoError(t, err)
		require.True(t, existed)
		requireRun(t, first, got)

		_, err = b.s.GetRun(b.ctx, repeat.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "the repeat creates nothing")
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Len(t, runs, 1)
	})

	t.Run("ReturnsTheRunAsItIsNow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := newRun("w", 0)
		_, _, err := b.s.CreateRun(b.ctx, first, "delivery:support:d-1", day)
		require.NoError(t, err)
		_, err = b.s.UpdateRun(b.ctx, first.ID, func(r *store.Run) error {
			r.Status = store.StatusSucceeded
			return nil
		})
		require.NoError(t, err)

		got, existed, err := b.s.CreateRun(b.ctx, newRun("w", time.Minute), "delivery:support:d-1", day)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, first.ID, got.ID)
		require.Equal(t, store.StatusSucceeded, got.Status)
	})

	t.Run("KeysAreScopedStrings", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for i, key := range []string{"api:a:k", "api:b:k", "delivery:support:k", "cron:a:0:2026-03-30T07:00:00Z"} {
			_, existed, err := b.s.CreateRun(b.ctx, newRun("a", time.Duration(i)*time.Second), key, day)
			require.NoError(t, err)
			require.False(t, existed, key)
		}
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Len(t, runs, 4)
	})

	t.Run("NoKeyNeverDeduplicates", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for range 3 {
			_, existed, err := b.s.CreateRun(b.ctx, newRun("w", 0), "", day)
			require.NoError(t, err)
			require.False(t, existed)
		}
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Len(t, runs, 3)
	})

	t.Run("ExpiredKeyIsReused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const key = "api:w:k"
		first, _, err := b.s.CreateRun(b.ctx, newRun("w", 0), key, time.Hour)
		require.NoError(t, err)

		got, existed, err := b.s.CreateRun(b.ctx, newRun("w", time.Hour-time.Microsecond), key, time.Hour)
		require.NoError(t, err)
		require.True(t, existed, "live until the last microsecond")
		require.Equal(t, first.ID, got.ID)

		second := newRun("w", time.Hour)
		got, existed, err = b.s.CreateRun(b.ctx, second, key, time.Hour)
		require.NoError(t, err)
		require.False(t, existed, "expired at created+ttl")
		require.Equal(t, second.ID, got.ID)

		got, existed, err = b.s.CreateRun(b.ctx, newRun("w", 90*time.Minute), key, time.Hour)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, second.ID, got.ID, "the key now names the new run")
	})

	t.Run("ExpiredKeyIsReboundWhileTheFirstRunLives", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const key = "api:w:k"
		first := newRun("w", 0)
		first.RequestFingerprint = "sha256:aaaa"
		_, _, err := b.s.CreateRun(b.ctx, first, key, time.Hour)
		require.NoError(t, err)

		second := newRun("w", 2*time.Hour)
		second.RequestFingerprint = "sha256:bbbb"
		got, existed, err := b.s.CreateRun(b.ctx, second, key, time.Hour)
		require.NoError(t, err)
		require.False(t, existed)
		require.Equal(t, second.ID, got.ID)

		// The first run is untouched, and still takes updates.
		got, err = b.s.GetRun(b.ctx, first.ID)
		require.NoError(t, err)
		first.RequestFingerprint = ""
		requireRun(t, first, got)
		finished := base.Add(time.Minute)
		_, err = b.s.UpdateRun(b.ctx, first.ID, func(r *store.Run) error {
			r.Status, r.FinishedAt = store.StatusSucceeded, finished
			return nil
		})
		require.NoError(t, err)
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Len(t, runs, 2)

		// Only the second run's binding counts, and it is live.
		n, err := b.s.PurgeExpiredKeys(b.ctx, base.Add(2*time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "the first run's binding went with the rebinding")

		// Pruning the first run spares the key, which the second holds.
		n, err = b.s.PruneRuns(b.ctx, base.Add(time.Hour), 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		repeat := newRun("w", 150*time.Minute)
		repeat.RequestFingerprint = "sha256:bbbb"
		got, existed, err = b.s.CreateRun(b.ctx, repeat, key, time.Hour)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, second.ID, got.ID)
		other := newRun("w", 150*time.Minute)
		other.RequestFingerprint = "sha256:aaaa"
		_, _, err = b.s.CreateRun(b.ctx, other, key, time.Hour)
		require.ErrorIs(t, err, store.ErrIdempotencyKeyReused, "the key carries the second request's fingerprint")

		// Pruning the second run frees the key before its expiry.
		_, err = b.s.UpdateRun(b.ctx, second.ID, func(r *store.Run) error {
			r.Status, r.FinishedAt = store.StatusSucceeded, second.CreatedAt
			return nil
		})
		require.NoError(t, err)
		n, err = b.s.PruneRuns(b.ctx, base.Add(150*time.Minute), 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		third := newRun("w", 160*time.Minute)
		third.RequestFingerprint = "sha256:aaaa"
		got, existed, err = b.s.CreateRun(b.ctx, third, key, time.Hour)
		require.NoError(t, err)
		require.False(t, existed, "the pruned run's key is free")
		require.Equal(t, third.ID, got.ID)
	})

	t.Run("FailedRebindKeepsTheExpiredBinding", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const key = "api:w:k"
		first, _, err := b.s.CreateRun(b.ctx, newRun("w", 0), key, time.Hour)
		require.NoError(t, err)
		taken := b.create(t, newRun("w", time.Second))

		// The key has expired, but the new run's ID is taken: the write
		// fails whole, and the key stays bound to the first run.
		clash := newRun("w", 2*time.Hour)
		clash.ID = taken.ID
		_, _, err = b.s.CreateRun(b.ctx, clash, key, time.Hour)
		require.ErrorIs(t, err, store.ErrConflict)
		got, existed, err := b.s.CreateRun(b.ctx, newRun("w", 30*time.Minute), key, time.Hour)
		require.NoError(t, err)
		require.True(t, existed, "live at a time before its expiry")
		require.Equal(t, first.ID, got.ID)
		n, err := b.s.PurgeExpiredKeys(b.ctx, base.Add(2*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the first run's binding is still there to purge")
	})

	t.Run("KeyReusedForADifferentRequestIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const key = "api:w:deploy-42"
		first := newRun("w", 0)
		first.RequestFingerprint = "sha256:aaaa"
		got, existed, err := b.s.CreateRun(b.ctx, first, key, time.Hour)
		require.NoError(t, err)
		require.False(t, existed)
		require.Empty(t, got.RequestFingerprint, "the fingerprint is kept with the key, not the run")

		same := newRun("w", time.Minute)
		same.RequestFingerprint = "sha256:aaaa"
		got, existed, err = b.s.CreateRun(b.ctx, same, key, time.Hour)
		require.NoError(t, err)
		require.True(t, existed, "the same request is a true repeat")
		require.Equal(t, first.ID, got.ID)
		require.Empty(t, got.RequestFingerprint)

		other := newRun("w", 2*time.Minute)
		other.RequestFingerprint = "sha256:bbbb"
		_, existed, err = b.s.CreateRun(b.ctx, other, key, time.Hour)
		require.ErrorIs(t, err, store.ErrIdempotencyKeyReused)
		require.False(t, existed)
		_, err = b.s.GetRun(b.ctx, other.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "a refused repeat creates nothing")

		unknown := newRun("w", 3*time.Minute)
		got, existed, err = b.s.CreateRun(b.ctx, unknown, key, time.Hour)
		require.NoError(t, err)
		require.True(t, existed, "a caller without a fingerprint matches any")
		require.Equal(t, first.ID, got.ID)

		// Once the key expires it binds the new request's fingerprint.
		later := newRun("w", time.Hour)
		later.RequestFingerprint = "sha256:bbbb"
		got, existed, err = b.s.CreateRun(b.ctx, later, key, time.Hour)
		require.NoError(t, err)
		require.False(t, existed)
		require.Equal(t, later.ID, got.ID)
		again := newRun("w", time.Hour+time.Minute)
		again.RequestFingerprint = "sha256:aaaa"
		_, _, err = b.s.CreateRun(b.ctx, again, key, time.Hour)
		require.ErrorIs(t, err, store.ErrIdempotencyKeyReused, "the key now carries the new fingerprint")

		// A key stored without a fingerprint matches any request.
		plain := newRun("w", 0)
		_, _, err = b.s.CreateRun(b.ctx, plain, "api:w:plain", day)
		require.NoError(t, err)
		fp := newRun("w", time.Second)
		fp.RequestFingerprint = "sha256:cccc"
		got, existed, err = b.s.CreateRun(b.ctx, fp, "api:w:plain", day)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, plain.ID, got.ID)
	})

	t.Run("RequestFingerprintIsChecked", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for name, fp := range map[string]string{
			"too long":  strings.Repeat("f", store.MaxRequestFingerprintLen+1),
			"nul byte":  "sha256:a\x00b",
			"not utf-8": "\xff",
		} {
			run := newRun("w", 0)
			run.RequestFingerprint = fp
			_, _, err := b.s.CreateRun(b.ctx, run, "api:w:k", day)
			require.ErrorIs(t, err, store.ErrInvalid, name)
		}
	})

	t.Run("KeyNeedsAPositiveTTL", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, ttl := range []time.Duration{0, -time.Hour} {
			run := newRun("w", 0)
			_, _, err := b.s.CreateRun(b.ctx, run, "api:w:k", ttl)
			require.ErrorIs(t, err, store.ErrInvalid)
			_, err = b.s.GetRun(b.ctx, run.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		}
	})

	t.Run("KeysUpToTheMaximumLengthAreKept", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		// Multi-byte text, so the limit is seen to count bytes.
		longest := "api:w:" + strings.Repeat("é", (store.MaxIdempotencyKeyLen-6)/2)
		longest += strings.Repeat("k", store.MaxIdempotencyKeyLen-len(longest))
		require.Len(t, longest, store.MaxIdempotencyKeyLen)
		first, existed, err := b.s.CreateRun(b.ctx, newRun("w", 0), longest, day)
		require.NoError(t, err)
		require.False(t, existed)
		got, existed, err := b.s.CreateRun(b.ctx, newRun("w", time.Second), longest, day)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, first.ID, got.ID)

		// A key that differs only past the limit would collide if a store
		// cut keys short; it is refused instead.
		for name, key := range map[string]string{
			"one byte over": longest + "k",
			"64 KiB":        "api:w:" + strings.Repeat("k", 64<<10),
			"not utf-8":     "api:w:\xff\xfe",
			"nul byte":      "api:w:a\x00b",
		} {
			run := newRun("w", 0)
			_, _, err := b.s.CreateRun(b.ctx, run, key, day)
			require.ErrorIs(t, err, store.ErrInvalid, name)
			_, err = b.s.GetRun(b.ctx, run.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "%s: nothing is stored", name)
		}
	})

	t.Run("FailedCreateDoesNotBindTheKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		taken := b.create(t, newRun("w", 0))
		clash := newRun("w", time.Second)
		clash.ID = taken.ID
		_, _, err := b.s.CreateRun(b.ctx, clash, "api:w:k", day)
		require.ErrorIs(t, err, store.ErrConflict)

		fresh := newRun("w", 2*time.Second)
		got, existed, err := b.s.CreateRun(b.ctx, fresh, "api:w:k", day)
		require.NoError(t, err)
		require.False(t, existed)
		require.Equal(t, fresh.ID, got.ID)
	})

	t.Run("PurgeDeletesExpiredKeysOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for i := 1; i <= 3; i++ {
			_, _, err := b.s.CreateRun(b.ctx, newRun("w", 0), fmt.Sprintf("k%d", i), time.Duration(i)*time.Hour)
			require.NoError(t, err)
		}
		n, err := b.s.PurgeExpiredKeys(b.ctx, base.Add(time.Hour-time.Microsecond))
		require.NoError(t, err)
		require.Zero(t, n)

		n, err = b.s.PurgeExpiredKeys(b.ctx, base.Add(2*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "keys expiring at or before now")
		n, err = b.s.PurgeExpiredKeys(b.ctx, base.Add(2*time.Hour))
		require.NoError(t, err)
		require.Zero(t, n)

		_, existed, err := b.s.CreateRun(b.ctx, newRun("w", 150*time.Minute), "k3", time.Hour)
		require.NoError(t, err)
		require.True(t, existed, "a live key survives the purge")

		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Len(t, runs, 3, "purging keys keeps their runs")
	})

	t.Run("PurgeNeedsATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.s.PurgeExpiredKeys(b.ctx, time.Time{})
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("RacingClaimsCreateExactlyOneRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const keys, racers = 3, 24
		var (
			wg      sync.WaitGroup
			created atomic.Int32
			winners [keys]sync.Map // run ID -> true, per key
		)
		for k := range keys {
			for range racers {
				wg.Go(func() {
					got, existed, err := b.s.CreateRun(b.ctx, newRun("w", 0), fmt.Sprintf("delivery:support:%d", k), day)
					if !assert.NoError(t, err) {
						return
					}
					if !existed {
						created.Add(1)
					}
					winners[k].Store(got.ID, true)
				})
			}
		}
		wg.Wait()
		require.EqualValues(t, keys, created.Load(), "one creation per key")
		for k := range keys {
			n := 0
			winners[k].Range(func(any, any) bool { n++; return true })
			require.Equal(t, 1, n, "every racer for key %d gets the same run", k)
		}
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Len(t, runs, keys)
	})
}
