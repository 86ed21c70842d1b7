package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	chatapifake "github.com/heraldhq/herald/internal/providers/chatapi/fake"
	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/internal/testplugin"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// benchPayload is a ~200-byte JSON input, the size of a typical send.
var benchPayload = json.RawMessage(`{"phone":"14155550123","body":"Good morning ops, you are on call today. Reply ACK to confirm.","quoted_msg_id":"false_14155550123@c.us_3EB0C767D26A1D8B3A4B","mentioned_phones":["14155550124"],"n":42}`)

// measure runs op b.N times and reports its median latency as p50-ns beside
// go test's mean ns/op, and the CPU time one op costs: cpu-ns/op for this
// process and for each process in peers (the other end of a cross-process
// call), summed into total-cpu-ns/op.
func measure(b *testing.B, op func() error, peers ...int) {
	b.Helper()
	if len(benchPayload) < 180 || len(benchPayload) > 220 {
		b.Fatalf("payload is %d bytes, want about 200", len(benchPayload))
	}
	b.ReportAllocs()
	durations := make([]time.Duration, 0, 1024)
	var self0, peer0 time.Duration
	var sleeps0, selfSleeps0 int64
	for b.Loop() {
		if len(durations) == 0 {
			// Counted from the first op, after the benchmark's setup.
			self0, peer0 = selfCPU(b), peersCPU(b, peers)
			sleeps0, selfSleeps0 = threadSleeps(b, peers), threadSleeps(b, nil)
		}
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	self, peer := selfCPU(b)-self0, peersCPU(b, peers)-peer0
	sleeps := threadSleeps(b, peers) - sleeps0
	n := float64(len(durations))
	b.ReportMetric(float64(sleeps)/n, "sleeps/op")
	if len(peers) > 0 {
		b.ReportMetric(float64(sleeps-(threadSleeps(b, nil)-selfSleeps0))/n, "peer-sleeps/op")
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(self.Nanoseconds())/n, "cpu-ns/op")
	if len(peers) > 0 {
		b.ReportMetric(float64(peer.Nanoseconds())/n, "peer-cpu-ns/op")
		b.ReportMetric(peersRSS(b, peers), "peer-rss-MiB")
	}
	b.ReportMetric(float64((self+peer).Nanoseconds())/n, "total-cpu-ns/op")
}

// peersRSS returns the resident set of the processes pids, in MiB, from
// /proc/<pid>/status.
func peersRSS(b *testing.B, pids []int) float64 {
	var kib int64
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			b.Fatalf("rss of process %d: %v", pid, err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					b.Fatalf("rss of process %d: %v", pid, err)
				}
				kib += n
			}
		}
	}
	return float64(kib) / 1024
}

// selfCPU returns the CPU time (user + system) this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peersCPU returns the CPU time (user + system) the processes pids have
// used, from /proc/<pid>/stat, in clock ticks of 10 ms: a benchmark of a
// second or more reads it to within about 1%.
func peersCPU(b *testing.B, pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatalf("cpu of process %d: %v", pid, err)
		}
		// The command name, in parentheses, may hold spaces: fields are
		// counted after its closing parenthesis; utime and stime are the
		// 14th and 15th fields of the line.
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		for _, f := range fields[11:13] {
			ticks, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				b.Fatalf("cpu of process %d: %v", pid, err)
			}
			total += time.Duration(ticks) * (time.Second / clockTicks)
		}
	}
	return total
}

// threadSleeps counts the times a thread of this process or of the
// processes pids went to sleep (voluntary context switches: a thread
// blocking in futex or epoll_wait, which a goroutine hand-off to an idle
// processor costs). Unlike CPU time, the count hardly depends on what else
// the machine runs, so it shows a hand-off saved on a loaded machine.
func threadSleeps(b *testing.B, pids []int) int64 {
	var total int64
	for _, pid := range append([]int{os.Getpid()}, pids...) {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		if err != nil {
			b.Fatal(err)
		}
		for _, task := range tasks {
			raw, err := os.ReadFile(task)
			if err != nil {
				continue // the thread exited
			}
			for _, line := range strings.Split(string(raw), "\n") {
				if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
					n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					if err != nil {
						b.Fatalf("%s: %v", task, err)
					}
					total += n
				}
			}
		}
	}
	return total
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times: 100
// on every architecture Go supports.
const clockTicks = 100

func invokeEcho(ctx context.Context, c sdk.Client) func() error {
	req := &sdk.InvokeRequest{Instance: "main", Action: "echo", Input: benchPayload, Attempt: 1}
	return func() error {
		out, err := c.Invoke(ctx, req)
		if err == nil && len(out) < len(benchPayload)/2 {
			return io.ErrShortBuffer
		}
		return err
	}
}

// BenchmarkInvokePlugin is a no-op echo through a launched plugin process:
// gRPC over a Unix socket with AutoMTLS, plus the SDK's validation and JSON.
// The plugin speaks protocol 2, so the call is a frame each way on the
// connection's invoke stream.
func BenchmarkInvokePlugin(b *testing.B) {
	benchmarkPlugin(b, testbin.Build(b, echoPkg))
}

// BenchmarkInvokePluginUnary is the same call to a plugin that speaks
// protocol 1 only, as plugins built before protocol 2: a unary RPC a call.
func BenchmarkInvokePluginUnary(b *testing.B) {
	benchmarkPlugin(b, buildProtocol1(b))
}

// BenchmarkInvokePluginParallel is the streamed call under load: 32 calls
// in flight at a time from 32 goroutines, so frames queue behind a send in
// progress and go out in batches. It reports CPU per call on both sides.
func BenchmarkInvokePluginParallel(b *testing.B) {
	benchmarkPluginParallel(b, testbin.Build(b, echoPkg))
}

// BenchmarkInvokePluginUnaryParallel is the same load over protocol 1.
func BenchmarkInvokePluginUnaryParallel(b *testing.B) {
	benchmarkPluginParallel(b, buildProtocol1(b))
}

func benchmarkPluginParallel(b *testing.B, dir string) {
	c, pid := startEcho(b, dir)
	op := invokeEcho(context.Background(), c)
	b.SetParallelism(16) // 16 goroutines a CPU: 32 in flight on this machine
	b.ReportAllocs()
	self0, peer0 := selfCPU(b), peersCPU(b, []int{pid})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	self, peer := selfCPU(b)-self0, peersCPU(b, []int{pid})-peer0
	n := float64(b.N)
	b.ReportMetric(float64(self.Nanoseconds())/n, "cpu-ns/op")
	b.ReportMetric(float64(peer.Nanoseconds())/n, "peer-cpu-ns/op")
	b.ReportMetric(float64((self+peer).Nanoseconds())/n, "total-cpu-ns/op")
}

// startEcho launches the Echo plugin found in dir, configures instance
// "main" and returns its client and process id.
func startEcho(b *testing.B, dir string) (sdk.Client, int) {
	return startPlugin(b, dir, "echo", json.RawMessage(`{}`))
}

// startPlugin launches provider typ's plugin found in dir, configures
// instance "main" with config and returns its client and process id.
func startPlugin(b *testing.B, dir, typ string, config json.RawMessage) (sdk.Client, int) {
	h := New(Options{Paths: []string{dir}})
	b.Cleanup(func() { _ = h.Close() })
	ctx := context.Background()
	c, err := h.Client(ctx, typ)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Configure(ctx, "main", config); err != nil {
		b.Fatal(err)
	}
	return c, pluginPID(b, h, typ)
}

func benchmarkPlugin(b *testing.B, dir string) {
	c, pid := startEcho(b, dir)
	measure(b, invokeEcho(context.Background(), c), pid)
}

// pluginPID returns the pid of provider typ's running plugin process.
func pluginPID(t testing.TB, h *Host, typ string) int {
	t.Helper()
	p, err := h.provider(typ)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		t.Fatalf("provider %s has no running process", typ)
	}
	return p.cur.pid
}

// BenchmarkInvokeInProcess is the same call to the provider registered
// in-process: the SDK's validation and JSON without any transport.
func BenchmarkInvokeInProcess(b *testing.B) {
	ctx := context.Background()
	c := sdk.NewServer(testplugin.New(), nil)
	if err := c.Configure(ctx, "main", json.RawMessage(`{}`)); err != nil {
		b.Fatal(err)
	}
	measure(b, invokeEcho(ctx, c))
}

// BenchmarkInvokeGRPCInProcess is the same call over gRPC without the
// process boundary: sdktest's in-process server on loopback TCP, no TLS. It
// is the cost of the protocol's transport alone, before any plugin process.
func BenchmarkInvokeGRPCInProcess(b *testing.B) {
	// go-plugin's test client logs its shutdown to hclog's default output,
	// which would split the benchmark's result lines.
	out := hclog.DefaultOutput
	hclog.DefaultOutput = io.Discard
	b.Cleanup(func() { hclog.DefaultOutput = out })
	ctx := context.Background()
	c := sdktest.Serve(b, testplugin.New())
	if err := c.Configure(ctx, "main", json.RawMessage(`{}`)); err != nil {
		b.Fatal(err)
	}
	measure(b, invokeEcho(ctx, c))
}

// BenchmarkHTTPLoopback is the baseline the target is set against: the same payload POSTed to a local
// HTTP server that echoes it, over a kept-alive connection to 127.0.0.1.
func BenchmarkHTTPLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	client := srv.Client()
	measure(b, func() error {
		resp, err := client.Post(srv.URL+"/echo", "application/json", bytes.NewReader(benchPayload))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err == nil && len(out) != len(benchPayload) {
			return io.ErrShortBuffer
		}
		return err
	})
}

// BenchmarkHTTPCrossProcess is the same HTTP exchange with the server in
// another process, as the plugin is: it separates the cost of crossing a
// process boundary from the cost of the plugin protocol.
func BenchmarkHTTPCrossProcess(b *testing.B) {
	dir := testbin.Build(b, "github.com/heraldhq/herald/internal/testplugin/cmd/herald-testhttp")
	cmd := exec.Command(filepath.Join(dir, "herald-testhttp"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + strings.TrimSpace(addr) + "/echo"
	transport := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Transport: transport}
	b.Cleanup(transport.CloseIdleConnections)
	measure(b, func() error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(benchPayload))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err == nil && len(out) != len(benchPayload) {
			return io.ErrShortBuffer
		}
		return err
	}, pid)
}

// BenchmarkInvokeChatAPISend is a real provider's call: the chatapi plugin
// binary sending a message to the Chat API fake served by this process, as
// `go run ./bench` drives it, with the step's deadline and the exchange the
// engine records. peer-cpu-ns/op is the plugin's own CPU per message: the
// SDK's validation and JSON, the provider's HTTP request and response, the
// recorded exchange and both ends of the stream.
func BenchmarkInvokeChatAPISend(b *testing.B) {
	dir := testbin.Build(b, "github.com/heraldhq/herald/plugins/chatapi")
	if err := os.Rename(filepath.Join(dir, "chatapi"), filepath.Join(dir, "herald-provider-chatapi")); err != nil {
		b.Fatal(err)
	}
	api := httptest.NewServer(chatapifake.New())
	b.Cleanup(api.Close)
	config, err := json.Marshal(chatapifake.ProviderConfig(api.URL))
	if err != nil {
		b.Fatal(err)
	}
	c, pid := startPlugin(b, dir, "chatapi", config)
	ctx := context.Background()
	req := &sdk.InvokeRequest{Instance: "main", Action: "send_message", Attempt: 1,
		Input: json.RawMessage(`{"phone":"14155550123","body":"Good morning ops, you are on call today. Reply ACK to confirm."}`)}
	measure(b, func() error {
		ex := &sdk.Exchange{}
		callCtx, cancel := context.WithTimeout(sdk.WithExchange(ctx, ex), 30*time.Second)
		defer cancel()
		out, err := c.Invoke(callCtx, req)
		if err == nil && (!bytes.Contains(out, []byte(`"sent":true`)) || len(ex.Response()) == 0) {
			return fmt.Errorf("unexpected output %s, exchange %s", out, ex.Response())
		}
		return err
	}, pid)
}
