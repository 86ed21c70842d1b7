package serve

import (
	"context"
	"sort"

	"github.com/heraldhq/herald/internal/console"
)

// Plugins describes every provider plugin the host can use, as the
// console's plugins page shows it: what `herald plugins list` reports, the
// plugin's health and its restarts. It implements console.Backend.
func (s *Server) Plugins(ctx context.Context) []console.PluginInfo {
	ph := s.host.Plugins
	used := map[string]bool{}
	for _, prov := range s.Project().Providers {
		used[prov.Type] = true
	}
	infos, _ := ph.Discover(ctx) // each info carries its own error
	out := make([]console.PluginInfo, 0, len(infos))
	for _, info := range infos {
		pi := console.PluginInfo{
			Name: info.Type, Version: info.Version, Protocol: info.Protocol, Path: info.Path, SHA256: info.SHA256,
			Actions: info.Actions, Used: used[info.Type], Restarts: ph.Restarts(info.Type), Pid: ph.Pid(info.Type),
		}
		err := info.Err
		if err == nil {
			var client interface{ Health(context.Context) error }
			if client, err = ph.Client(ctx, info.Type); err == nil {
				err = client.Health(ctx)
			}
		}
		pi.Healthy = err == nil
		if err != nil {
			pi.Health = err.Error()
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
