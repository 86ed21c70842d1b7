package scheduler_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/heraldhq/herald/internal/store"
)

// memStore keeps cron state in memory, for tests and benchmarks that measure
// the scheduler rather than a database. It implements only the cron state
// methods of store.Store.
type memStore struct {
	store.Store
	mu     sync.Mutex
	states map[[2]string]store.CronState
}

func newMemStore() *memStore {
	return &memStore{states: map[[2]string]store.CronState{}}
}

func (m *memStore) CronState(_ context.Context, workflow, trigger string) (store.CronState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[[2]string{workflow, trigger}]
	if !ok {
		return store.CronState{}, fmt.Errorf("cron state of %s trigger %s: %w", workflow, trigger, store.ErrNotFound)
	}
	return st, nil
}

func (m *memStore) SetCronState(_ context.Context, st store.CronState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[[2]string{st.Workflow, st.Trigger}] = st
	return nil
}
