package serve

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/pluginhost"
	"github.com/heraldhq/herald/sdk"
)

// stopHCL is a project of one workflow calling noop.
const stopHCL = `
provider "p" {}
workflow "w" {
  step "s" { uses = "p.send" }
}
`

// noop is a provider whose send action does nothing.
type noop struct{}

func (noop) Spec() *sdk.Spec {
	return &sdk.Spec{Type: "p", Version: "1.0.0", Actions: []sdk.Action{{
		Name: "send",
		Run:  func(context.Context, *sdk.Call) (any, error) { return map[string]any{}, nil },
	}}}
}

// TestStopWhileStartingIsAStop: a server told to stop (its context ended)
// while it still starts, resuming the unfinished runs, stops as a server
// told to stop later does, without an error: it lost nothing, and the runs
// resume on the next start. `herald serve` sent SIGTERM just after it turned
// ready exited 1 with "list unfinished runs: context canceled".
func TestStopWhileStartingIsAStop(t *testing.T) {
	plugins := pluginhost.New(pluginhost.Options{Paths: []string{}})
	t.Cleanup(func() { _ = plugins.Close() })
	require.NoError(t, plugins.Register("p", noop{}))
	srv, err := New(context.Background(), Options{
		Host: host.Options{
			Sources:  []config.Source{{Name: "w.hcl", Data: []byte(stopHCL)}},
			StoreDSN: "sqlite://" + filepath.Join(t.TempDir(), "herald.db"),
			Plugins:  plugins,
		},
		ReloadInterval: -1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, srv.Run(ctx))
}
