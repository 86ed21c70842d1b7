package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ReattachEnv names the environment variable through which the host attaches
// to plugins started by hand in debug mode instead of launching them. Its
// value is a JSON object of provider type to ReattachConfig, as a plugin in
// debug mode prints it.
const ReattachEnv = "HERALD_REATTACH_PROVIDERS"

// CPUProfileEnv, set to a path, makes a plugin write a CPU profile of its
// whole life to that path with ".<pid>" appended, for measuring what a call
// costs on the plugin's side. The host passes it on to the plugins it
// launches.
const CPUProfileEnv = "HERALD_PLUGIN_CPUPROFILE"

// DebugEnv, set to 1, starts a plugin in debug mode, like the --debug flag.
const DebugEnv = "HERALD_PLUGIN_DEBUG"

// ReattachConfig tells the host where a plugin in debug mode listens.
type ReattachConfig struct {
	Protocol        string `json:"protocol"`
	ProtocolVersion int    `json:"protocol_version"`
	Network         string `json:"network"`
	Address         string `json:"address"`
	Pid             int    `json:"pid"`
}

// PluginReattach converts r for go-plugin's ClientConfig.Reattach.
func (r ReattachConfig) PluginReattach() (*plugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	switch r.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", r.Address)
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", r.Address)
	default:
		return nil, fmt.Errorf("reattach: unknown network %q", r.Network)
	}
	if err != nil {
		return nil, fmt.Errorf("reattach: %w", err)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.Protocol(r.Protocol),
		ProtocolVersion: r.ProtocolVersion,
		Addr:            addr,
		Pid:             r.Pid,
		Test:            true,
	}, nil
}

// ParseReattach reads the value of ReattachEnv.
func ParseReattach(value string) (map[string]ReattachConfig, error) {
	var m map[string]ReattachConfig
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ReattachEnv, err)
	}
	return m, nil
}

// Serve runs p as a plugin process and does not return. It is all a
// plugin's main needs:
//
//	func main() { sdk.Serve(myprovider.New()) }
//
// With the --debug flag (or HERALD_PLUGIN_DEBUG=1) the plugin runs in debug
// mode: it listens on its own, prints the HERALD_REATTACH_PROVIDERS value
// that makes herald attach to it, and runs until interrupted, so it can be
// started under a debugger.
//
// A plugin exits when the host process that started it is gone, so a killed
// host leaves no plugin behind.
//
// A plugin runs its Go code on one processor while it uses less than most of
// a core, and on all of them once it is busier (see governProcs); setting
// GOMAXPROCS in its environment (one started by hand in debug mode, say)
// keeps that count instead.
//
// Each call's handler context carries the host's trace context (W3C, from
// the call's gRPC metadata), which HTTP passes on as a traceparent header.
// Serve exports no span itself: a plugin that traces sets its own
// OpenTelemetry TracerProvider before calling Serve.
func Serve(p Provider) {
	debugMode := os.Getenv(DebugEnv) == "1"
	for _, a := range os.Args[1:] {
		if a == "--debug" || a == "-debug" {
			debugMode = true
		}
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	governProcs()
	srv := NewServer(p, logger)
	stopProfile := startCPUProfile(os.Getenv(CPUProfileEnv), logger)
	cfg := &plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPlugins(srv),
		GRPCServer:       governedGRPCServer,
		Logger:           logger,
	}
	if debugMode {
		serveDebug(cfg, srv.spec.Type)
		stopProfile()
		os.Exit(0)
	}
	go watchParent(os.Getppid(), time.Second/2, stopProfile)
	plugin.Serve(cfg)
	stopProfile()
	os.Exit(0)
}

// governedGRPCServer is grpcServer with every unary call (describe,
// configure, a protocol 1 invoke, a webhook) noted for the processor
// governor; the calls of the Invokes stream are noted as they are received.
func governedGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpcServer(append(opts, grpc.ChainUnaryInterceptor(noteUnaryCall)))
}

// noteUnaryCall notes a unary call for the processor governor.
func noteUnaryCall(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	callActivity.note()
	return handler(ctx, req)
}

// startCPUProfile starts a CPU profile written to path.<pid> and returns
// what ends it; with an empty path it does nothing.
func startCPUProfile(path string, logger hclog.Logger) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path + "." + strconv.Itoa(os.Getpid()))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		logger.Error("cannot write a CPU profile", "env", CPUProfileEnv, "error", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

func serveDebug(cfg *plugin.ServeConfig, typ string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: os.Stderr, Name: "provider." + typ})
	reattachCh := make(chan *plugin.ReattachConfig, 1)
	closeCh := make(chan struct{})
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattachCh, CloseCh: closeCh}
	// No host lists its protocol versions to a plugin started by hand, and
	// go-plugin would then serve the oldest: offer every version, so the
	// plugin serves the newest, as it does when the host launches it.
	if os.Getenv("PLUGIN_PROTOCOL_VERSIONS") == "" {
		_ = os.Setenv("PLUGIN_PROTOCOL_VERSIONS", debugProtocols())
	}
	go plugin.Serve(cfg)
	select {
	case rc := <-reattachCh:
		m := map[string]ReattachConfig{typ: {
			Protocol:        string(rc.Protocol),
			ProtocolVersion: rc.ProtocolVersion,
			Network:         rc.Addr.Network(),
			Address:         rc.Addr.String(),
			Pid:             rc.Pid,
		}}
		b, _ := json.Marshal(m)
		fmt.Printf("Provider %s is running in debug mode. Point herald at it with:\n\n\texport %s='%s'\n\nPress Ctrl-C to stop.\n", typ, ReattachEnv, b)
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "plugin did not start serving within 10s")
		return
	}
	<-closeCh
}

// watchParent exits the process, after calling stop, once its parent is
// gone: the kernel then re-parents it, so the parent pid changes. On Linux
// it waits on a pidfd of the parent, without waking up while the parent
// lives; elsewhere it checks the parent pid every interval.
func watchParent(ppid int, every time.Duration, stop func()) {
	waitParent(ppid, every)
	fmt.Fprintln(os.Stderr, "herald host process is gone; plugin exiting")
	stop()
	os.Exit(0)
}

// pollParent returns once the parent pid is no longer ppid, checking it
// every interval.
func pollParent(ppid int, every time.Duration) {
	for {
		time.Sleep(every)
		if os.Getppid() != ppid {
			return
		}
	}
}
