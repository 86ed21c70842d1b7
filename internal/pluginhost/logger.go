package pluginhost

import "github.com/hashicorp/go-hclog"

// pluginLogger is the logger go-plugin writes a plugin's log lines to, at the
// level the plugin logged them. It keeps the name provider.<type> (go-plugin
// would append the executable's name) and renames the plugin's own "@module"
// (such as the instance a call ran for) to "module", because as a key/value
// pair it would replace the host's "@module" in JSON logs.
type pluginLogger struct{ hclog.Logger }

var _ hclog.Logger = pluginLogger{}

func (l pluginLogger) Named(string) hclog.Logger { return l }

func (l pluginLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, renameModule(args)...)
}

func (l pluginLogger) Trace(msg string, args ...any) { l.Logger.Trace(msg, renameModule(args)...) }
func (l pluginLogger) Debug(msg string, args ...any) { l.Logger.Debug(msg, renameModule(args)...) }
func (l pluginLogger) Info(msg string, args ...any)  { l.Logger.Info(msg, renameModule(args)...) }
func (l pluginLogger) Warn(msg string, args ...any)  { l.Logger.Warn(msg, renameModule(args)...) }
func (l pluginLogger) Error(msg string, args ...any) { l.Logger.Error(msg, renameModule(args)...) }

func renameModule(args []any) []any {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == "@module" {
			out := append([]any(nil), args...)
			out[i] = "module"
			return out
		}
	}
	return args
}

// inprocLogger is the logger of a provider registered in process. The sdk
// names a call's logger after the provider instance; as for a plugin
// process, the logger keeps the name provider.<type> and the instance goes
// in "module", instead of a name such as provider.<type>.<type>.
type inprocLogger struct{ hclog.Logger }

var _ hclog.Logger = inprocLogger{}

func (l inprocLogger) Named(name string) hclog.Logger { return l.Logger.With("module", name) }
