package herald

import (
	"context"
	"path/filepath"
	"testing"

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
