// Command bench measures Herald as a whole system on this machine and prints
// each figure beside its floors, measured in the same run:
//
//	go run ./bench                 # webhook → one-step workflow → sandbox
//	go run ./bench -quick          # a few seconds a system, one round
//	go run ./bench -duration 20s -clients 64 -rounds 5
//
// It builds herald, the chatapi plugin and the two floor programs, serves
// the provider sandbox in-process, and drives four systems with the same
// webhook clients: the floor (receive, post to the provider, nothing
// stored), the durable floor (the same plus one SQLite row committed before
// the send and updated after, grouped commits), Herald answering 202 when
// the run is admitted (respond = "accepted", measured closed at the
// provider) and Herald answering 200 with the run object when it has
// finished (respond = "output"). Each round measures every system, in
// alternating order, in a closed loop of -clients and then sequentially (one
// client); the tables give the medians of the rounds. Latency is from
// sending the webhook to the sandbox receiving the message; CPU is each
// process's utime+stime over the measured window (from /proc) divided by
// the messages delivered in it; RSS is each process's at the end of the
// window. The machine is shared and noisy: read the ratios.
//
// Whether a system leaves the CPUs idle is in the "busy" column: the
// machine's CPU time not idle over the window (from /proc/stat, whoever
// used it), beside the share the system's processes and the bench process
// itself (the load generator and the sandbox provider, "bench µs/msg")
// account for; busy well above that share means other programs ran. Below
// each table are the machine's CPU time per message by kind (user, system,
// irq and softirq, where loopback TCP's receive path runs), each process's
// context switches per message (summed over its threads; of them,
// preemptions), and for Herald its SQLite commits per message, their mean
// time and the share of the window the writer spent committing (from its
// /metrics). These counts depend little on the machine's load; the load
// average is printed with them.
//
// -cpuprofile and -trace save a CPU profile and an execution trace of
// herald serve under the closed loop (go tool pprof, go tool trace; for
// where goroutines wait, go tool trace -pprof=sync or sched or syscall).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/bench/load"
	chatapifake "github.com/heraldhq/herald/internal/providers/chatapi/fake"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// config is what one run of the harness measures.
type config struct {
	// Root is the repository root, where the programs are built from.
	Root string
	// Duration and Warmup are each closed-loop measurement's; the
	// sequential one measures Duration/2.
	Duration, Warmup time.Duration
	// Clients is the closed loop's concurrency; Rate, when positive, adds
	// an open-loop measurement at that many webhooks a second.
	Clients int
	Rate    float64
	// Rounds is how many times every system is measured.
	Rounds int
	// Store is herald's store DSN; SQLite in a temp dir when empty.
	Store string
	// CPUProfile and Trace, when set, are where a CPU profile (5 s) and an
	// execution trace (2 s) of herald under the closed-loop load of the
	// first round are written, in the respond mode ProfileMode ("accepted"
	// or "output").
	CPUProfile, Trace, ProfileMode string
	// Out receives the report.
	Out io.Writer
}

func main() {
	cfg := config{Out: os.Stdout}
	flag.DurationVar(&cfg.Duration, "duration", 8*time.Second, "measured time of each closed-loop measurement (sequential: half)")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured time before each measurement")
	flag.IntVar(&cfg.Clients, "clients", 32, "concurrent webhook clients of the closed loop")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds; the tables give the medians")
	flag.StringVar(&cfg.Store, "store", "", "herald store DSN (default: SQLite in a temp dir)")
	flag.Float64Var(&cfg.Rate, "rate", 0, "webhooks/s of an extra open-loop measurement (0 skips it)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of herald serve under the closed-loop load to this file")
	flag.StringVar(&cfg.Trace, "trace", "", "write a 2 s execution trace of herald serve under the closed-loop load to this file (go tool trace)")
	flag.StringVar(&cfg.ProfileMode, "profile-respond", "accepted", "the respond mode -cpuprofile and -trace profile: accepted or output")
	quick := flag.Bool("quick", false, "a correctness-sized run: one round of 1 s measurements, 8 clients (overrides -duration, -warmup, -rounds, -clients and -rate)")
	flag.Parse()
	if *quick {
		cfg.quick()
	}
	if _, err := os.Stat("go.mod"); err != nil {
		fmt.Fprintln(os.Stderr, "bench: run it from the repository root: go run ./bench")
		os.Exit(2)
	}
	cfg.Root = "."
	if _, err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// quick sizes cfg for a correctness check in CI.
func (c *config) quick() {
	c.Duration, c.Warmup, c.Rounds, c.Clients, c.Rate = time.Second, 300*time.Millisecond, 1, 8, 0
}

// system is one program under test.
type system struct {
	name string
	url  string
	// procs are its processes, by role ("host", "plugin"; "" for a single
	// process).
	procs []proc
	// herald marks Herald's two modes, which the targets are checked on.
	herald bool
	// stats, when set, is the durable floor's count of writes and commits.
	stats string
	// metrics, when set, is herald's /metrics, where its SQLite store's
	// commits are counted and timed.
	metrics string
}

type proc struct {
	role string
	pid  int
}

// measurement is one system's figures in one mode of one round.
type measurement struct {
	load.Result
	// CPU is each process's CPU time per delivered message, in µs, and
	// RSS each process's resident set at the end of the window, in MiB,
	// both in the order of system.procs.
	CPU, RSS []float64
	// WritesPerCommit is how many writes the durable floor's commits
	// carried on average over the window.
	WritesPerCommit float64
	// Kernel is the part of each process's CPU time per delivered message
	// spent in the kernel (stime), in µs.
	Kernel []float64
	// Switches and Preempted are each process's context switches per
	// delivered message: all of them, and the involuntary ones.
	Switches, Preempted []float64
	// CommitsPerMsg is herald's SQLite commits per delivered message over
	// the window, CommitMs their mean time (the WAL's write and fsync,
	// which every write of the group waits for), and CommitBusy the share
	// of the window the writer spent committing.
	CommitsPerMsg, CommitMs, CommitBusy float64
	// Machine is the whole machine's CPU time over the window, and
	// BenchCPU this process's (the load generator and the sandbox
	// provider) per delivered message, in µs.
	Machine  machineTicks
	BenchCPU float64
}

// mode is a load shape: the closed loop, one client at a time, or paced.
type mode struct {
	name     string
	clients  int
	rate     float64
	duration time.Duration
	// await, when set, makes each client wait for its message to reach the
	// sandbox before it sends the next (the loop closed at the provider).
	await *load.Deliveries
}

// report is every measurement of a run, by mode and system, in round
// order.
type report struct {
	cfg     config
	systems []system
	modes   []mode
	byMode  map[string]map[string][]measurement
	// loadStart is the load average as the measurements began.
	loadStart string
}

// run builds and starts the systems, measures them cfg.Rounds times and
// writes the report to cfg.Out; it returns the report for tests.
func run(ctx context.Context, cfg config) (*report, error) {
	bin, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bin)
	// One go build compiles the four programs in parallel, each named
	// after its directory.
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(os.PathSeparator), "./cmd/host", "./plugins/chatapi", "./bench/floor", "./bench/durablefloor")
	build.Dir, build.Stdout, build.Stderr = cfg.Root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	for from, to := range map[string]string{"host": "herald", "chatapi": "herald-provider-chatapi"} {
		if err := os.Rename(filepath.Join(bin, from), filepath.Join(bin, to)); err != nil {
			return nil, err
		}
	}
	sb := sandboxproviders.New()
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sbLn.Close()
	sbURL := "http://" + sbLn.Addr().String()
	go http.Serve(sbLn, sb)
	target := sbURL + "/chatapi/instance229607/sendMessage?token=sandbox-token"
	deliveries := &load.Deliveries{}
	sent := sb.ChatAPI.OnSent
	sb.ChatAPI.OnSent = func(m chatapifake.Message) {
		if sent != nil {
			sent(m)
		}
		if msg, ok := m.Body["body"].(string); ok {
			deliveries.Notify(msg)
		}
	}

	var systems []system
	floorAddr := freeAddr()
	floor, err := start(ctx, filepath.Join(bin, "floor"), nil, "-listen", floorAddr, "-target", target)
	if err != nil {
		return nil, err
	}
	defer stop(floor)
	systems = append(systems, system{name: "floor (no persistence)", url: "http://" + floorAddr + "/hooks/bench", procs: []proc{{"", floor.Process.Pid}}})

	durableAddr := freeAddr()
	durable, err := start(ctx, filepath.Join(bin, "durablefloor"), nil, "-listen", durableAddr, "-target", target, "-db", filepath.Join(bin, "durablefloor.db"))
	if err != nil {
		return nil, err
	}
	defer stop(durable)
	if err := waitOK(ctx, "http://"+durableAddr+"/stats"); err != nil {
		return nil, err
	}
	systems = append(systems, system{name: "durable floor (SQLite FULL)", url: "http://" + durableAddr + "/hooks/bench", procs: []proc{{"", durable.Process.Pid}},
		stats: "http://" + durableAddr + "/stats"})

	proj := filepath.Join(bin, "project")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(proj, "bench.hcl"), fmt.Appendf(nil, projectHCL, sbURL), 0o644); err != nil {
		return nil, err
	}
	heraldAddr, pprofAddr := freeAddr(), freeAddr()
	args := []string{"serve", "--dir", proj, "--listen", heraldAddr}
	if cfg.Store != "" {
		args = append(args, "--store", cfg.Store)
	}
	env := []string{"HERALD_SECRET_TOKEN=sandbox-token", "HERALD_LOG_LEVEL=warn", "HERALD_PLUGIN_PATH="}
	if cfg.CPUProfile != "" || cfg.Trace != "" {
		// Only a profiled run serves pprof, which keeps heap profiling on:
		// otherwise herald runs as a default herald serve does.
		env = append(env, "HERALD_PPROF_ADDR="+pprofAddr)
	}
	herald, err := start(ctx, filepath.Join(bin, "herald"), env, args...)
	if err != nil {
		return nil, err
	}
	defer stop(herald)
	if err := waitOK(ctx, "http://"+heraldAddr+"/readyz"); err != nil {
		return nil, err
	}
	plugin, err := childPID(herald.Process.Pid, "herald-provider-chatapi")
	if err != nil {
		return nil, err
	}
	store := "SQLite"
	if cfg.Store != "" {
		store = strings.SplitN(cfg.Store, ":", 2)[0]
	}
	heraldProcs := []proc{{"host", herald.Process.Pid}, {"plugin", plugin}}
	systems = append(systems,
		system{name: "herald, respond=accepted (" + store + ")", url: "http://" + heraldAddr + "/hooks/bench", procs: heraldProcs, herald: true, metrics: "http://" + heraldAddr + "/metrics"},
		system{name: "herald, respond=output (" + store + ")", url: "http://" + heraldAddr + "/hooks/bench-sync", procs: heraldProcs, herald: true, metrics: "http://" + heraldAddr + "/metrics"})

	rep := &report{cfg: cfg, systems: systems, byMode: map[string]map[string][]measurement{}, loadStart: loadAverage()}
	rep.modes = []mode{
		{name: fmt.Sprintf("closed loop, %d clients", cfg.Clients), clients: cfg.Clients, duration: cfg.Duration, await: deliveries},
		{name: "sequential, 1 client, each webhook after the last message arrived", clients: 1, duration: cfg.Duration / 2, await: deliveries},
	}
	if cfg.Rate > 0 {
		rep.modes = append(rep.modes, mode{name: fmt.Sprintf("open loop, %.0f webhooks/s", cfg.Rate), clients: cfg.Clients, rate: cfg.Rate, duration: cfg.Duration})
	}
	for round := range cfg.Rounds {
		order := append([]system(nil), systems...)
		if round%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, sys := range order {
			for mi, m := range rep.modes {
				if round == 0 && mi == 0 && sys.herald && strings.Contains(sys.name, "respond="+cfg.ProfileMode) {
					if cfg.CPUProfile != "" {
						go profile(pprofAddr, "profile?seconds=5", cfg.Warmup+m.duration/2-2500*time.Millisecond, cfg.CPUProfile)
					}
					if cfg.Trace != "" {
						go profile(pprofAddr, "trace?seconds=2", cfg.Warmup+m.duration/2-time.Second, cfg.Trace)
					}
				}
				fmt.Fprintf(os.Stderr, "bench: round %d/%d: %s, %s\n", round+1, cfg.Rounds, sys.name, m.name)
				meas, err := measure(ctx, sb, sys, m, cfg.Warmup)
				if err != nil {
					return rep, err
				}
				if rep.byMode[m.name] == nil {
					rep.byMode[m.name] = map[string][]measurement{}
				}
				rep.byMode[m.name][sys.name] = append(rep.byMode[m.name][sys.name], meas)
			}
		}
	}
	return rep, rep.print(cfg.Out)
}

// projectHCL is Herald's project: the same one-step workflow behind two
// webhooks, one per respond mode. %s is the sandbox's URL.
const projectHCL = `
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.TOKEN }}", api_url = "%[1]s/chatapi" }
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
workflow "bench-sync" {
  trigger "webhook" {
    path            = "bench-sync"
    respond         = "output"
    respond_timeout = "10s"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.msg }}" }
  }
}
`

// measure drives sys in mode m and samples its processes over the window.
func measure(ctx context.Context, sb *sandboxproviders.Sandbox, sys system, m mode, warmup time.Duration) (measurement, error) {
	before := make([]float64, len(sys.procs))
	after := make([]float64, len(sys.procs))
	kernel := make([]float64, len(sys.procs)) // stime, after − before
	rss := make([]float64, len(sys.procs))
	var sampleErr error
	var stats [2]groupStats
	var machine [2]machineTicks
	var self [2]float64
	var switches, preempted [2][]uint64
	var commits [2]commitStats
	res, err := load.Run(ctx, sys.name, load.Options{
		Targets: []string{sys.url}, Sandbox: sb, Clients: m.clients, Rate: m.rate, Warmup: warmup, Duration: m.duration, AwaitDelivery: m.await,
		Window: func(begin bool) {
			at := map[bool]int{true: 0, false: 1}[begin]
			var err error
			machine[at], err = readMachineTicks()
			sampleErr = errors.Join(sampleErr, err)
			self[at], err = cpuSeconds(os.Getpid())
			sampleErr = errors.Join(sampleErr, err)
			for _, p := range sys.procs {
				v, n, err := ctxSwitches(p.pid)
				sampleErr = errors.Join(sampleErr, err)
				switches[at], preempted[at] = append(switches[at], v+n), append(preempted[at], n)
			}
			if sys.metrics != "" {
				commits[at], err = readCommits(sys.metrics)
				sampleErr = errors.Join(sampleErr, err)
			}
			if sys.stats != "" {
				st, err := readStats(sys.stats)
				sampleErr = errors.Join(sampleErr, err)
				stats[at] = st
			}
			for i, p := range sys.procs {
				user, system, err := cpuTimes(p.pid)
				sampleErr = errors.Join(sampleErr, err)
				if begin {
					before[i], kernel[i] = user+system, -system
					continue
				}
				after[i], kernel[i] = user+system, kernel[i]+system
				r, err := rssMiB(p.pid)
				sampleErr = errors.Join(sampleErr, err)
				rss[i] = r
			}
		},
	})
	if err != nil {
		return measurement{}, err
	}
	if sampleErr != nil {
		return measurement{}, fmt.Errorf("%s: sample /proc: %w", sys.name, sampleErr)
	}
	meas := measurement{Result: res, RSS: rss, CPU: make([]float64, len(sys.procs)), Kernel: make([]float64, len(sys.procs))}
	if groups := stats[1].Groups - stats[0].Groups; groups > 0 {
		meas.WritesPerCommit = float64(stats[1].Writes-stats[0].Writes) / float64(groups)
	}
	meas.Machine = machine[1].sub(machine[0])
	meas.Switches, meas.Preempted = make([]float64, len(sys.procs)), make([]float64, len(sys.procs))
	if n := float64(res.Arrived); n > 0 {
		for i := range sys.procs {
			meas.CPU[i] = (after[i] - before[i]) * 1e6 / n
			meas.Kernel[i] = kernel[i] * 1e6 / n
			meas.Switches[i] = float64(switches[1][i]-switches[0][i]) / n
			meas.Preempted[i] = float64(preempted[1][i]-preempted[0][i]) / n
		}
		meas.BenchCPU = (self[1] - self[0]) * 1e6 / n
		if c := commits[1].count - commits[0].count; c > 0 {
			took := commits[1].seconds - commits[0].seconds
			meas.CommitsPerMsg, meas.CommitMs = c/n, took*1e3/c
			meas.CommitBusy = took / m.duration.Seconds()
		}
	}
	return meas, nil
}

// groupStats is the durable floor's GET /stats.
type groupStats struct {
	Groups int64 `json:"groups"`
	Writes int64 `json:"writes"`
}

func readStats(url string) (groupStats, error) {
	var st groupStats
	resp, err := http.Get(url)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// commitStats is herald's count of SQLite commits and their total time,
// from herald_store_wait_seconds{op="commit"}.
type commitStats struct{ count, seconds float64 }

// readCommits scrapes herald's /metrics for its commits; a store that does
// not report them (PostgreSQL) reads as none.
func readCommits(url string) (commitStats, error) {
	resp, err := http.Get(url)
	if err != nil {
		return commitStats{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return commitStats{}, err
	}
	return parseCommits(string(b))
}

// parseCommits reads the commit histogram's count and sum from Prometheus
// text.
func parseCommits(text string) (commitStats, error) {
	var c commitStats
	for line := range strings.SplitSeq(text, "\n") {
		for suffix, to := range map[string]*float64{"_count": &c.count, "_sum": &c.seconds} {
			rest, ok := strings.CutPrefix(line, "herald_store_wait_seconds"+suffix+`{op="commit"} `)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return c, fmt.Errorf("metrics: %q: %w", line, err)
			}
			*to = v
		}
	}
	return c, nil
}

// start starts a program with env added to the harness's environment.
func start(ctx context.Context, path string, env []string, args ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start()
}

// stop kills a started program and reaps it.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitOK(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
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

// profile saves herald's /debug/pprof/ endpoint (such as
// "profile?seconds=5") to path, taken after wait.
func profile(addr, endpoint string, wait time.Duration, path string) {
	time.Sleep(wait)
	resp, err := http.Get("http://" + addr + "/debug/pprof/" + endpoint)
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
