package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/internal/testplugin"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// benchPayload is a ~200-byte JSON input, the size of a typical send.
var benchPayload = json.RawMessage(`{"phone":"14155550123","body":"Good morning ops, you are on call today. Reply ACK to confirm.","quoted_msg_id":"false_14155550123@c.us_3EB0C767D26A1D8B3A4B","mentioned_phones":["14155550124"],"n":42}`)

// measure runs op b.N times and reports its median latency as p50-ns beside
// go test's mean ns/op.
func measure(b *testing.B, op func() error) {
	b.Helper()
	if len(benchPayload) < 180 || len(benchPayload) > 220 {
		b.Fatalf("payload is %d bytes, want about 200", len(benchPayload))
	}
	b.ReportAllocs()
	durations := make([]time.Duration, 0, 1024)
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns")
}

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
func BenchmarkInvokePlugin(b *testing.B) {
	h := New(Options{Paths: []string{testbin.Build(b, echoPkg)}})
	b.Cleanup(func() { _ = h.Close() })
	ctx := context.Background()
	c, err := h.Client(ctx, "echo")
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Configure(ctx, "main", json.RawMessage(`{}`)); err != nil {
		b.Fatal(err)
	}
	measure(b, invokeEcho(ctx, c))
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
	})
}
