package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// batchWaits is a store.Waits whose SettleWaits records each batch it is
// given; the first call blocks until release is closed. A settlement with
// the output `"bad"` fails any batch that holds it.
type batchWaits struct {
	store.Waits
	grouped bool
	release chan struct{}
	entered chan struct{}

	mu      sync.Mutex
	batches []int
}

func (b *batchWaits) GroupsCommits() bool { return b.grouped }

func (b *batchWaits) SettleWaits(_ context.Context, sts []store.Settlement, _ time.Time) ([]store.Settled, error) {
	b.mu.Lock()
	first := len(b.batches) == 0
	b.batches = append(b.batches, len(sts))
	b.mu.Unlock()
	if first && b.release != nil {
		close(b.entered)
		<-b.release
	}
	out := make([]store.Settled, len(sts))
	for i, st := range sts {
		if string(st.Output) == `"bad"` {
			return nil, errors.New("bad settlement")
		}
		out[i] = store.Settled{Resolved: true, Requeued: st.Key.StepID == "queued"}
	}
	return out, nil
}

func (b *batchWaits) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.batches...)
}

// waitQueued waits until n settlements are queued in s.
func waitQueued(t *testing.T, s *settler, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == n
	}, 5*time.Second, time.Millisecond)
}

// The settlements queued while a batch commits share the next one: the
// store sees one transaction for them, not one each.
func TestSettlerBatchesConcurrentCallers(t *testing.T) {
	ws := &batchWaits{release: make(chan struct{}), entered: make(chan struct{})}
	var s settler
	ctx := context.Background()
	settle := func(step string) (store.Settled, error) {
		return s.settle(ctx, ws, store.Settlement{Key: store.StepKey{RunID: "r", StepID: step, Item: store.NoItem}, Output: json.RawMessage(`{}`)}, time.Now)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		res, err := settle("queued")
		require.NoError(t, err)
		require.True(t, res.Requeued)
	})
	<-ws.entered
	for range 8 {
		wg.Go(func() {
			res, err := settle("other")
			require.NoError(t, err)
			require.True(t, res.Resolved)
			require.False(t, res.Requeued)
		})
	}
	waitQueued(t, &s, 8)
	close(ws.release)
	wg.Wait()
	require.Equal(t, []int{1, 8}, ws.sizes(), "the eight queued meanwhile share one transaction")

	s.mu.Lock()
	defer s.mu.Unlock()
	require.False(t, s.busy, "the settler is idle once the queue is empty")
}

// A batch that fails as a whole is applied one settlement at a time, so
// only the settlement that fails sees the error.
func TestSettlerIsolatesAFailedSettlement(t *testing.T) {
	ws := &batchWaits{release: make(chan struct{}), entered: make(chan struct{})}
	var s settler
	ctx := context.Background()
	settle := func(out string) error {
		_, err := s.settle(ctx, ws, store.Settlement{Key: store.StepKey{RunID: "r", StepID: "s", Item: store.NoItem}, Output: json.RawMessage(out)}, time.Now)
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { require.NoError(t, settle(`{}`)) })
	<-ws.entered
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			out := `{}`
			if i == 2 {
				out = `"bad"`
			}
			errs[i] = settle(out)
		})
	}
	waitQueued(t, &s, 4)
	close(ws.release)
	wg.Wait()
	for i, err := range errs {
		if i == 2 {
			require.Error(t, err)
		} else {
			require.NoError(t, err, "settlement %d", i)
		}
	}
	require.Equal(t, []int{1, 4, 1, 1, 1, 1}, ws.sizes())
}

// A store that groups commits itself is handed each settlement as it
// comes, with no batch of the engine's in front of its own.
func TestSettlerHandsAGroupingStoreEachSettlement(t *testing.T) {
	ws := &batchWaits{grouped: true}
	var s settler
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := s.settle(context.Background(), ws, store.Settlement{Key: store.StepKey{RunID: "r", StepID: "s"}, Output: json.RawMessage(`{}`)}, time.Now)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	sizes := ws.sizes()
	require.Len(t, sizes, 16)
	for _, n := range sizes {
		require.Equal(t, 1, n)
	}
}
