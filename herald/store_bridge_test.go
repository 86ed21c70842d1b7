package herald

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// TestOpenStorePassesItsOneTransactionWrites checks that a store of
// OpenStore, bridged for the engine (directly, or as Options.Store), keeps
// the writes that put a run and its attempt in one transaction, so an
// embedded engine costs a one-step run the commits herald serve does.
func TestOpenStorePassesItsOneTransactionWrites(t *testing.T) {
	ctx := context.Background()
	st, err := OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for name, s := range map[string]store.Store{"OpenStore": bridge(st), "resumeStore": withExtensions(&resumeStore{Store: bridge(st)}, bridge(st))} {
		if _, ok := s.(store.RunCommitter); !ok {
			t.Errorf("%s: the bridged store hides store.RunCommitter", name)
		}
		if _, ok := s.(store.EagerStarter); !ok {
			t.Errorf("%s: the bridged store hides store.EagerStarter", name)
		}
		if _, ok := s.(store.Waits); !ok {
			t.Errorf("%s: the bridged store hides store.Waits", name)
		}
	}
}

// TestReleasedRunStopsExecutingHere checks that a run the engine releases
// (another process ended it before this one took it) wakes what waits for
// it to stop executing here, as a finished run does.
func TestReleasedRunStopsExecutingHere(t *testing.T) {
	e := newEvents()
	e.observe(engine.Event{Type: engine.RunStarted, RunID: "r1"})
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters["r1"] = append(e.waiters["r1"], ch)
	e.mu.Unlock()
	e.observe(engine.Event{Type: engine.RunReleased, RunID: "r1"})
	select {
	case <-ch:
	default:
		t.Fatal("a released run's waiter was not woken")
	}
	if e.running["r1"] {
		t.Fatal("a released run is still counted as executing here")
	}
	if RunReleased != EventType(engine.RunReleased) {
		t.Fatalf("RunReleased = %q, the engine's is %q", RunReleased, engine.RunReleased)
	}
}
