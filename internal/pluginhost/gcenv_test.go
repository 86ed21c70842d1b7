package pluginhost

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPluginInheritsGCSettings checks that GOGC and GOMEMLIMIT in the
// host's environment reach the plugins it launches, so that an operator's
// garbage collector settings apply to every process of a herald serve, and
// that the plugin's environment stays without them when the host has none.
func TestPluginInheritsGCSettings(t *testing.T) {
	// Not parallel: it sets variables in the host's environment.
	t.Run("set", func(t *testing.T) {
		t.Setenv("GOGC", "150")
		t.Setenv("GOMEMLIMIT", "64MiB")
		got := pluginEnvNames(t, setup(t, Options{}))
		require.Contains(t, got, "GOGC")
		require.Contains(t, got, "GOMEMLIMIT")
	})
	t.Run("unset", func(t *testing.T) {
		t.Setenv("GOGC", "")
		t.Setenv("GOMEMLIMIT", "")
		require.NoError(t, os.Unsetenv("GOGC"))
		require.NoError(t, os.Unsetenv("GOMEMLIMIT"))
		got := pluginEnvNames(t, setup(t, Options{}))
		require.NotContains(t, got, "GOGC")
		require.NotContains(t, got, "GOMEMLIMIT")
	})
}

// pluginEnvNames returns the names of the variables in the environment of
// f's test plugin.
func pluginEnvNames(t *testing.T, f *fixture) []string {
	t.Helper()
	c := f.client(t)
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	out, err := invoke(context.Background(), c, "main", "environ", `{}`)
	require.NoError(t, err)
	var names []string
	for _, n := range out["names"].([]any) {
		names = append(names, n.(string))
	}
	return names
}
