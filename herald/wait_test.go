package herald_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/herald"
)

const waitProject = `
workflow "pause" {
  step "nap" {
    wait {
      duration = "1s"
    }
  }
  step "after" {
    uses = "probe.echo"
    with = { text = "woke: {{ steps.nap.output.timed_out }}" }
  }
}
`

// TestWaitStepsRunEmbedded runs a workflow with a wait step through the
// embedding package, on its own store and on one from OpenStore: the
// package's store wrappers must keep the store's durable waits visible.
func TestWaitStepsRunEmbedded(t *testing.T) {
	t.Parallel()
	for name, shared := range map[string]bool{"own store": false, "OpenStore": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxTimeout(t)
			f := setup(t, func(o *herald.Options) {
				o.Files["pause.hcl"] = []byte(waitProject)
				if shared {
					st, err := herald.OpenStore(ctx, "sqlite://"+filepath.Join(t.TempDir(), "shared.db"))
					require.NoError(t, err)
					t.Cleanup(func() { st.Close() })
					o.Store = st
				}
			})
			f.serve(t)
			id, err := f.h.Start(ctx, "pause", map[string]any{}, "")
			require.NoError(t, err)
			run, err := f.h.Wait(ctx, id)
			require.NoError(t, err)
			require.Equal(t, herald.StatusSucceeded, run.Status, "run: %+v", run)
			after, ok := run.Step("after")
			require.True(t, ok)
			require.JSONEq(t, `{"text":"woke: true"}`, string(after.Output))
		})
	}
}
