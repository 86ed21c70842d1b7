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
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldhq/herald/bench/load"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "measured time per system")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time before each measurement")
	clients := flag.Int("clients", 32, "concurrent webhook clients")
	store := flag.String("store", "", "herald store DSN (default: SQLite in a temp dir)")
	rate := flag.Float64("rate", 200, "webhooks/s of the open-loop run (0 skips it)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of herald serve under the closed-loop load to this file")
	flag.Parse()
	if err := run(*duration, *warmup, *clients, *rate, *store); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// cpuProfile is where -cpuprofile writes herald's profile.
var cpuProfile string

func run(duration, warmup time.Duration, clients int, rate float64, storeDSN string) error {
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
	pprofAddr := freeAddr()
	herald.Env = append(os.Environ(), "HERALD_SECRET_TOKEN=sandbox-token", "HERALD_LOG_LEVEL=warn", "HERALD_PLUGIN_PATH=", "HERALD_PPROF_ADDR="+pprofAddr)
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

	ctx := context.Background()
	measure := func(name, target string, rate float64) (load.Result, error) {
		return load.Run(ctx, name, load.Options{
			Targets: []string{target}, Sandbox: sb, Clients: clients, Rate: rate,
			Warmup: warmup, Duration: duration,
		})
	}
	heraldName := "herald serve (SQLite)"
	if storeDSN != "" {
		heraldName = "herald serve (" + strings.SplitN(storeDSN, ":", 2)[0] + ")"
	}
	var closed, open []load.Result
	for _, sys := range []struct{ name, url string }{
		{"floor (direct POST)", "http://" + floorAddr + "/hooks/bench"},
		{heraldName, "http://" + heraldAddr + "/hooks/bench"},
	} {
		if cpuProfile != "" && sys.name == heraldName {
			go profile(pprofAddr, warmup+duration/2, cpuProfile)
		}
		r, err := measure(sys.name, sys.url, 0)
		if err != nil {
			return err
		}
		closed = append(closed, r)
		if rate > 0 {
			r, err := measure(sys.name, sys.url, rate)
			if err != nil {
				return err
			}
			open = append(open, r)
		}
	}
	host, _ := os.Hostname()
	fmt.Printf("\nwebhook → one-step workflow → sandbox provider; %s, %d CPUs, %s\n", host, numCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("\nclosed loop: %d clients, %s measured after %s warm-up (throughput is what counts: an\nasynchronous system queues what it accepts faster than it sends)\n\n", clients, duration, warmup)
	if err := load.Print(os.Stdout, closed); err != nil {
		return err
	}
	if rate > 0 {
		fmt.Printf("\nopen loop: %.0f webhooks/s (latency below saturation)\n\n", rate)
		return load.Print(os.Stdout, open)
	}
	return nil
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

// profile saves a 5 s CPU profile of herald, taken after wait.
func profile(addr string, wait time.Duration, path string) {
	time.Sleep(wait - 2500*time.Millisecond)
	resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=5")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
