package herald_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// meteredStore is a Store of an application's own: it wraps another Store
// and counts the attempts Herald logs.
type meteredStore struct {
	herald.Store
	attempts atomic.Int64
}

func (m *meteredStore) StartAttempt(ctx context.Context, key herald.StepKey, start herald.AttemptStart) error {
	m.attempts.Add(1)
	return m.Store.StartAttempt(ctx, key, start)
}

// An application passes a Store of its own, here one wrapping the SQLite
// store OpenStore opens, to see every attempt Herald records.
func Example_store() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "herald-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sqlite, err := herald.OpenStore(ctx, "sqlite://"+filepath.Join(dir, "runs.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer sqlite.Close()
	store := &meteredStore{Store: sqlite}
	h, err := herald.New(ctx, herald.Options{
		Files: map[string][]byte{"greet.hcl": []byte(`
provider "console" {}

workflow "greet" {
  step "hello" {
    uses = "console.print"
    with = { text = "Hello!" }
  }
}
`)},
		Providers: []sdk.Provider{console{}},
		Store:     store,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Run(ctx, "greet", nil); err != nil {
		log.Fatal(err)
	}
	_, err = h.Get(ctx, "run_that_does_not_exist")
	fmt.Println("attempts:", store.attempts.Load(), "not found:", errors.Is(err, herald.ErrNotFound))
	// Output:
	// console: Hello!
	// attempts: 1 not found: true
}

// forgetfulStore returns the public ErrNotFound, as a Store written outside
// Herald would, for a run it has lost.
type forgetfulStore struct {
	herald.Store
	lost string
}

func (f *forgetfulStore) GetRun(ctx context.Context, id string) (herald.RunRecord, error) {
	if id == f.lost {
		return herald.RunRecord{}, fmt.Errorf("run %s: %w", id, herald.ErrNotFound)
	}
	return f.Store.GetRun(ctx, id)
}

// TestStoreErrorsCrossTheBoundary checks that a Store of an application's
// own may return the public sentinels and that Herald's errors match them,
// and that the internal store's errors reach a wrapping Store as the public
// ones.
func TestStoreErrorsCrossTheBoundary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sqlite, err := herald.OpenStore(ctx, "sqlite://"+filepath.Join(t.TempDir(), "runs.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlite.Close() })

	_, err = sqlite.GetRun(ctx, "run_missing")
	require.ErrorIs(t, err, herald.ErrNotFound, "OpenStore's errors match the public sentinels")
	_, err = sqlite.UpdateRun(ctx, "", func(*herald.RunRecord) error { return nil })
	require.Error(t, err)

	fs := &forgetfulStore{Store: sqlite}
	h, err := herald.New(ctx, herald.Options{
		Files:     map[string][]byte{"greet.hcl": []byte("provider \"console\" {}\nworkflow \"greet\" {\n  step \"hello\" {\n    uses = \"console.print\"\n    with = { text = \"hi\" }\n  }\n}\n")},
		Providers: []sdk.Provider{console{}},
		Store:     fs,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	run, err := h.Run(ctx, "greet", nil)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)

	fs.lost = run.ID
	_, err = h.Get(ctx, run.ID)
	require.ErrorIs(t, err, herald.ErrNotFound)
	_, err = h.Start(ctx, "nope", nil, "")
	require.ErrorIs(t, err, herald.ErrUnknownWorkflow)
	require.Equal(t, `unknown workflow "nope"`, err.Error())
}
