package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/heraldhq/herald/sdk"
)

// PathEnv names the environment variable holding plugin directories,
// colon-separated, searched before the other default directories.
const PathEnv = "HERALD_PLUGIN_PATH"

// binaryPrefix starts the name of every plugin executable.
const binaryPrefix = "herald-provider-"

var validType = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// PluginInfo describes one provider the host can use.
type PluginInfo struct {
	// Type is the provider type, the <type> in herald-provider-<type>.
	Type    string `json:"name"`
	Version string `json:"version"`
	// Protocol is the plugin protocol version negotiated at launch.
	Protocol int `json:"protocol"`
	// Path is the executable; empty for a provider registered in-process.
	Path string `json:"path,omitempty"`
	// SHA256 is the hex sha256 of the executable.
	SHA256 string `json:"sha256,omitempty"`
	// Actions are the names of the provider's actions.
	Actions []string `json:"actions"`
	// Err says why the plugin could not be launched or described; the other
	// fields then hold what is known without launching it.
	Err error `json:"-"`
}

// DefaultPaths returns the plugin directories searched in order: those in
// HERALD_PLUGIN_PATH, the directory of the running executable, and
// ~/.local/share/herald/plugins.
func DefaultPaths() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv(PathEnv)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if dir, err := UserDir(); err == nil {
		dirs = append(dirs, dir)
	}
	return dirs
}

// found is a plugin executable found on the search path.
type found struct {
	typ, path string
}

// scan lists the plugin executables in the search directories; for a type
// found in several, the first directory wins.
func (h *Host) scan() []found {
	seen := map[string]bool{}
	var out []found
	for _, dir := range h.paths {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				h.logger.Warn("cannot read plugin directory", "dir", dir, "error", err)
			}
			continue
		}
		for _, e := range entries {
			typ, ok := strings.CutPrefix(e.Name(), binaryPrefix)
			if !ok || !validType.MatchString(typ) || seen[typ] {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if !isExecutable(path) {
				continue
			}
			seen[typ] = true
			out = append(out, found{typ: typ, path: path})
		}
	}
	return out
}

// find returns the executable of typ: the first herald-provider-<typ> in the
// search directories.
func (h *Host) find(typ string) (string, error) {
	if !validType.MatchString(typ) {
		return "", fmt.Errorf("%w: invalid provider type %q", ErrNotFound, typ)
	}
	for _, dir := range h.paths {
		path := filepath.Join(dir, binaryPrefix+typ)
		if isExecutable(path) {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: no %s%s in %s", ErrNotFound, binaryPrefix, typ, strings.Join(h.paths, ", "))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Discover returns every provider the host can use, sorted by type: the
// plugin executables on the search path, each launched (once per host) and
// described (concurrently, each within the host's start timeout), and the
// providers registered in-process. A plugin that cannot be launched or
// described, or that the lock refuses, is listed with Err set, and the
// returned error joins those errors.
func (h *Host) Discover(ctx context.Context) ([]PluginInfo, error) {
	byType := map[string]PluginInfo{}
	h.mu.Lock()
	for typ, p := range h.providers {
		if p.inproc != nil {
			byType[typ] = PluginInfo{Type: typ, Protocol: sdk.ProtocolVersion}
		}
	}
	h.mu.Unlock()
	for _, f := range h.scan() {
		if _, ok := byType[f.typ]; !ok {
			byType[f.typ] = PluginInfo{Type: f.typ, Path: f.path}
		}
	}
	types := make([]string, 0, len(byType))
	for typ := range byType {
		types = append(types, typ)
	}
	sort.Strings(types)

	// Each plugin is launched and described on its own, all at once: one
	// that hangs costs its own start timeout, not the others'.
	out := make([]PluginInfo, len(types))
	var wg sync.WaitGroup
	for i, typ := range types {
		wg.Go(func() { out[i] = h.info(ctx, byType[typ]) })
	}
	wg.Wait()
	var errs []error
	for _, info := range out {
		if info.Err != nil {
			errs = append(errs, info.Err)
		}
	}
	return out, errors.Join(errs...)
}

// info completes what is known of a provider by launching and describing it.
func (h *Host) info(ctx context.Context, info PluginInfo) PluginInfo {
	if info.Path != "" {
		if sum, err := fileSHA256(info.Path); err == nil {
			info.SHA256 = sum
		}
	}
	spec, protocol, err := h.describe(ctx, info.Type)
	if err != nil {
		info.Err = err
		return info
	}
	info.Version = spec.Version
	info.Protocol = protocol
	for _, a := range spec.Actions {
		info.Actions = append(info.Actions, a.Name)
	}
	return info
}
