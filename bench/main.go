// Command bench measures Herald as a whole system on this machine and prints
// each figure beside its floor, measured in the same run:
//
//	go run ./bench                 # webhook → one-step workflow → sandbox
//	go run ./bench -duration 20s -clients 64
//
// It builds herald, the chatapi plugin and the floor program, serves the
// provider sandbox in-process, and drives both systems with the same closed
// loop of webhook clients. Latency is from sending the webhook to the sandbox
// receiving the message (Herald answers webhooks before it sends, so its
// webhook round trip alone would flatter it). The machine is shared and
// noisy: run it a few times and quote medians.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "measured time per system")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time before each measurement")
	clients := flag.Int("clients", 32, "concurrent webhook clients")
	store := flag.String("store", "", "herald store DSN (default: SQLite in a temp dir)")
	flag.Parse()
	if err := run(*duration, *warmup, *clients, *store); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one system's figures.
type result struct {
	name       string
	sent       int
	delivered  int
	throughput float64
	p50, p99   time.Duration
}

func run(duration, warmup time.Duration, clients int, storeDSN string) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run it from the repository root: go run ./bench")
	}
	bin, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	for out, pkg := range map[string]string{"herald": "./cmd/host", "herald-provider-chatapi": "./plugins/chatapi", "floor": "./bench/floor"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, out), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	sb := sandboxproviders.New()
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sbURL := "http://" + sbLn.Addr().String()
	go http.Serve(sbLn, sb)

	floorAddr := freeAddr()
	floor := exec.Command(filepath.Join(bin, "floor"), "-listen", floorAddr, "-target", sbURL+"/chatapi/instance229607/sendMessage?token=sandbox-token")
	floor.Stderr = os.Stderr
	if err := floor.Start(); err != nil {
		return err
	}
	defer floor.Process.Kill()

	proj, err := os.MkdirTemp("", "herald-bench-project-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(proj)
	project := fmt.Sprintf(`
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.TOKEN }}", api_url = "%s/chatapi" }
}
workflow "bench" {
  trigger "webhook" {
    path = "bench"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.msg }}" }
  }
}
`, sbURL)
	if err := os.WriteFile(filepath.Join(proj, "bench.hcl"), []byte(project), 0o644); err != nil {
		return err
	}
	heraldAddr := freeAddr()
	args := []string{"serve", "--dir", proj, "--listen", heraldAddr}
	if storeDSN != "" {
		args = append(args, "--store", storeDSN)
	}
	herald := exec.Command(filepath.Join(bin, "herald"), args...)
	herald.Env = append(os.Environ(), "HERALD_SECRET_TOKEN=sandbox-token", "HERALD_LOG_LEVEL=warn", "HERALD_PLUGIN_PATH=")
	herald.Stderr = os.Stderr
	if err := herald.Start(); err != nil {
		return err
	}
	defer herald.Process.Kill()
	for _, u := range []string{"http://" + heraldAddr + "/readyz"} {
		if err := waitOK(u); err != nil {
			return err
		}
	}

	floorRes, err := measure("floor (direct POST)", "http://"+floorAddr+"/hooks/bench", sb, duration, warmup, clients)
	if err != nil {
		return err
	}
	heraldRes, err := measure("herald serve (SQLite)", "http://"+heraldAddr+"/hooks/bench", sb, duration, warmup, clients)
	if err != nil {
		return err
	}
	if storeDSN != "" {
		heraldRes.name = "herald serve (" + strings.SplitN(storeDSN, ":", 2)[0] + ")"
	}
	host, _ := os.Hostname()
	fmt.Printf("\nwebhook → one-step workflow → sandbox provider; %d clients, %s measured after %s warm-up; %s, %d CPUs, %s\n\n",
		clients, duration, warmup, host, numCPU(), time.Now().UTC().Format("2006-01-02"))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tsent\tdelivered\truns/s\tp50\tp99\tof floor\t")
	for _, r := range []result{floorRes, heraldRes} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%.0f%%\t\n", r.name, r.sent, r.delivered, r.throughput, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), 100*r.throughput/floorRes.throughput)
	}
	return tw.Flush()
}

// measure drives target with a closed loop of clients and reads deliveries
// from the sandbox: every webhook carries its id and send time, which the
// sandbox records with the time the message arrived.
func measure(name, target string, sb *sandboxproviders.Sandbox, duration, warmup time.Duration, clients int) (result, error) {
	sb.Reset()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	sent := sync.Map{} // id → send time
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := tag + "-" + strconv.FormatInt(seq.Add(1), 10)
				now := time.Now()
				body, _ := json.Marshal(map[string]string{"msg": id})
				resp, err := client.Post(target, "application/json", bytes.NewReader(body))
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failures.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				sent.Store(id, now)
			}
		}()
	}
	wg.Wait()
	// Let queued runs drain, then count what arrived within the window.
	time.Sleep(3 * time.Second)
	var lat []time.Duration
	delivered, sentInWindow := 0, 0
	sent.Range(func(_, v any) bool {
		if t := v.(time.Time); !t.Before(measureFrom) {
			sentInWindow++
		}
		return true
	})
	for _, r := range sb.Requests("chatapi") {
		var b struct {
			Body string `json:"body"`
		}
		if json.Unmarshal(r.Body, &b) != nil || !strings.HasPrefix(b.Body, tag) {
			continue
		}
		v, ok := sent.Load(b.Body)
		if !ok {
			continue
		}
		t0 := v.(time.Time)
		if t0.Before(measureFrom) || r.Time.After(end) {
			continue
		}
		delivered++
		lat = append(lat, r.Time.Sub(t0))
	}
	if len(lat) == 0 {
		return result{}, fmt.Errorf("%s: nothing was delivered (%d failures)", name, failures.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{
		name:       name,
		sent:       sentInWindow,
		delivered:  delivered,
		throughput: float64(delivered) / duration.Seconds(),
		p50:        lat[len(lat)/2],
		p99:        lat[len(lat)*99/100],
	}, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitOK(url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become ready", url)
}

func numCPU() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "processor\t:")
}
