// Package scaleout is the scale-out benchmark: the webhook → one-step
// workflow case with one `herald serve` on SQLite (the single-host
// baseline), then on PostgreSQL with one replica and with two sharing the
// store, each measured with the same closed loop as the floor program
// (package load) in the same run, with the CPU time each replica (herald
// and its plugin processes) spends per message. bench's main calls Run; a
// gated test in this package runs it on its own.
package scaleout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/bench/load"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// Config configures Run.
type Config struct {
	// Bin is a directory holding herald and herald-provider-chatapi, and
	// floor (bench/floor) to measure the floor in the same run.
	Bin string
	// DSN is a PostgreSQL DSN; Run works in a schema of its own, dropped
	// at the end.
	DSN string
	// Clients, Warmup and Duration are the load of each measurement, and
	// Rate, when positive, paces it (see load.Options).
	Clients          int
	Rate             float64
	Warmup, Duration time.Duration
	// SQLite also measures one herald on a SQLite store (the single-host
	// mode the PostgreSQL replicas are compared with), before them.
	SQLite bool
	// Profile, when not empty, is a directory where Run writes a 5 s CPU
	// profile (cpu-<system>.pprof) and a goroutine dump
	// (goroutines-<system>.txt) of the first herald of each herald
	// measurement, taken in the middle of its window.
	Profile string
	// Log receives the replicas' logs; nil discards them.
	Log io.Writer
}

// Result is one system's figures.
type Result struct {
	load.Result
	// CPU holds, for each herald process of the system (none for the
	// floor), the CPU time it and its plugin processes spent in the
	// measured window per message delivered in that window.
	CPU []time.Duration
	// DB is, for the PostgreSQL systems, the CPU time the server processes
	// serving the replicas' connections spent in the window per message
	// delivered (all replicas together); the server's shared processes
	// (WAL writer, checkpointer, autovacuum) are not counted.
	DB time.Duration
	// ViaRiver is, for the PostgreSQL systems, the share of the runs
	// created in the measured window whose River job was not deleted with
	// the run's end, read once they were delivered: those River executed,
	// as no worker was free and the replica's overflow queue was full
	// when they were admitted; the others were executed where they were
	// admitted (eager, or queued in its memory). -1 when unknown.
	ViaRiver float64
}

// Run measures the floor (when Bin has it), one herald on SQLite (when
// cfg.SQLite), one PostgreSQL replica and two, in that order, and returns
// their results.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	sb := sandboxproviders.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: sb}
	go srv.Serve(ln)
	defer srv.Close()
	sbURL := "http://" + ln.Addr().String()
	opts := load.Options{Sandbox: sb, Clients: cfg.Clients, Rate: cfg.Rate, Warmup: cfg.Warmup, Duration: cfg.Duration}

	var results []Result
	if floorBin := filepath.Join(cfg.Bin, "floor"); exists(floorBin) {
		addr := freeAddr()
		floor := exec.Command(floorBin, "-listen", addr, "-target", sbURL+"/chatapi/instance229607/sendMessage?token=sandbox-token")
		floor.Stderr = cfg.Log
		if err := floor.Start(); err != nil {
			return nil, err
		}
		defer func() { _ = floor.Process.Kill(); _ = floor.Wait() }()
		if err := waitUp("http://"+addr+"/hooks/bench", http.MethodPost); err != nil {
			return nil, err
		}
		opts.Targets = []string{"http://" + addr + "/hooks/bench"}
		r, err := load.Run(ctx, "floor (direct POST)", opts)
		if err != nil {
			return nil, err
		}
		results = append(results, Result{Result: r})
	}

	proj, err := os.MkdirTemp("", "herald-bench-scaleout-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(proj)
	if err := os.WriteFile(filepath.Join(proj, "bench.hcl"), []byte(fmt.Sprintf(project, sbURL)), 0o644); err != nil {
		return nil, err
	}
	m := &measurer{cfg: cfg, opts: opts, proj: proj, dsn: cfg.DSN}
	if cfg.Profile != "" {
		m.queries = map[int]string{}
	}
	defer m.stopAll()

	if cfg.SQLite {
		if err := m.start("sqlite://" + filepath.Join(proj, "sqlite", "herald.db")); err != nil {
			return results, err
		}
		r, err := m.measure(ctx, "herald serve, sqlite")
		if err != nil {
			return results, err
		}
		results = append(results, r)
		m.stopAll()
	}

	dsn, app, drop, err := schema(ctx, cfg.DSN)
	if err != nil {
		return results, err
	}
	defer drop()
	m.app = app
	for n := 1; n <= 2; n++ {
		if err := m.start(dsn); err != nil {
			return results, err
		}
		r, err := m.measure(ctx, fmt.Sprintf("herald serve, postgres, %d replica(s)", n))
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// measurer starts herald processes and measures them.
type measurer struct {
	cfg  Config
	opts load.Options
	proj string
	// dsn reaches the PostgreSQL server; app is the application_name of
	// the replicas' connections once they run on it, empty before.
	dsn, app string
	// queries, when profiling, holds the last query of each server process
	// dbCPU read, by process ID.
	queries map[int]string
	// procs are the herald processes running, the first first; pprof are
	// their profilers' addresses.
	procs []*exec.Cmd
	pprof []string
	hooks []string
}

// start starts one more herald serving the project on store and waits
// until it is ready.
func (m *measurer) start(store string) error {
	addr, pprofAddr := freeAddr(), freeAddr()
	cmd := exec.Command(filepath.Join(m.cfg.Bin, "herald"), "serve", "--dir", m.proj, "--listen", addr, "--store", store)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HERALD_STORE=") }),
		"HERALD_SECRET_TOKEN=sandbox-token", "HERALD_LOG_LEVEL=warn", "HERALD_PLUGIN_PATH=", "HERALD_PPROF_ADDR="+pprofAddr)
	cmd.Stdout, cmd.Stderr = m.cfg.Log, m.cfg.Log
	if err := cmd.Start(); err != nil {
		return err
	}
	m.procs = append(m.procs, cmd)
	m.pprof = append(m.pprof, pprofAddr)
	m.hooks = append(m.hooks, "http://"+addr+"/hooks/bench")
	return waitUp("http://"+addr+"/readyz", http.MethodGet)
}

// stopAll stops the herald processes, each asked to stop and given 10 s.
func (m *measurer) stopAll() {
	for _, cmd := range m.procs {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	m.procs, m.pprof, m.hooks = nil, nil, nil
}

// measure runs the load against the herald processes running and reads
// their CPU time at the start and the end of the measured window.
func (m *measurer) measure(ctx context.Context, name string) (Result, error) {
	opts := m.opts
	opts.Targets = m.hooks
	cpu := make(chan []time.Duration, 1)
	db := make(chan time.Duration, 1)
	window := make(chan [2]time.Time, 1)
	go func() {
		time.Sleep(opts.Warmup)
		before := m.cpu()
		dbBefore := m.dbCPU(ctx)
		if m.cfg.Profile != "" {
			go m.profile(name, opts.Duration/2)
		}
		start := time.Now()
		time.Sleep(opts.Duration)
		after := m.cpu()
		dbAfter := m.dbCPU(ctx)
		window <- [2]time.Time{start, time.Now()}
		for i := range after {
			after[i] -= before[i]
		}
		cpu <- after
		db <- dbDelta(dbBefore, dbAfter)
		if m.queries != nil {
			m.saveDBCPU(name, dbBefore, dbAfter)
		}
	}()
	r, err := load.Run(ctx, name, opts)
	if err != nil {
		return Result{Result: r}, err
	}
	res := Result{Result: r}
	delivered := r.Throughput * opts.Duration.Seconds()
	for _, d := range <-cpu {
		if delivered > 0 {
			res.CPU = append(res.CPU, time.Duration(float64(d)/delivered))
		}
	}
	if d := <-db; delivered > 0 {
		res.DB = time.Duration(float64(d) / delivered)
	}
	// Read once the window's runs were delivered: the held jobs of the
	// runs still queued or executing at the window's end are gone then.
	w := <-window
	res.ViaRiver = m.viaRiver(ctx, w[0], w[1])
	return res, nil
}

// viaRiver returns Result.ViaRiver for the runs created between start and
// end, or -1 when the replicas do not run on PostgreSQL or it cannot be
// read. It counts the River jobs left of those runs, so it must be called
// once they ended (each eager or queued run's job is deleted with its
// end).
func (m *measurer) viaRiver(ctx context.Context, start, end time.Time) float64 {
	if m.app == "" {
		return -1
	}
	conn, err := pgx.Connect(ctx, m.dsn)
	if err != nil {
		fmt.Fprintln(m.cfg.Log, "scaleout: via river:", err)
		return -1
	}
	defer conn.Close(ctx)
	var runs, jobs int64
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+pgx.Identifier{m.app, "runs"}.Sanitize()+` WHERE created_at BETWEEN $1 AND $2),
		(SELECT count(*) FROM `+pgx.Identifier{m.app, "river_job"}.Sanitize()+` WHERE kind = 'herald_run' AND created_at BETWEEN $1 AND $2)`,
		start, end).Scan(&runs, &jobs)
	if err != nil || runs == 0 {
		fmt.Fprintln(m.cfg.Log, "scaleout: via river:", err)
		return -1
	}
	return float64(jobs) / float64(runs)
}

// cpu returns the CPU time each herald process and its children have used
// so far.
func (m *measurer) cpu() []time.Duration {
	out := make([]time.Duration, len(m.procs))
	for i, cmd := range m.procs {
		out[i] = treeCPU(cmd.Process.Pid)
	}
	return out
}

// dbCPU returns the CPU time used so far by each server process that
// serves a connection of the replicas (named by m.app), by process ID;
// nil when the replicas do not run on PostgreSQL.
func (m *measurer) dbCPU(ctx context.Context) map[int]time.Duration {
	if m.app == "" {
		return nil
	}
	conn, err := pgx.Connect(ctx, m.dsn)
	if err != nil {
		fmt.Fprintln(m.cfg.Log, "scaleout: server cpu:", err)
		return nil
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid, left(query, 70) FROM pg_stat_activity WHERE application_name = $1`, m.app)
	if err != nil {
		fmt.Fprintln(m.cfg.Log, "scaleout: server cpu:", err)
		return nil
	}
	type backend struct {
		PID   int32
		Query string
	}
	backends, err := pgx.CollectRows(rows, pgx.RowToStructByPos[backend])
	if err != nil {
		fmt.Fprintln(m.cfg.Log, "scaleout: server cpu:", err)
		return nil
	}
	out := make(map[int]time.Duration, len(backends))
	for _, b := range backends {
		out[int(b.PID)], _ = procCPU(int(b.PID))
		if m.queries != nil {
			m.queries[int(b.PID)] = b.Query
		}
	}
	return out
}

// dbDelta returns the CPU time server processes used between two readings
// of dbCPU; a process first seen at the end counts from its start, as the
// pool opened its connection during the window.
func dbDelta(before, after map[int]time.Duration) time.Duration {
	var total time.Duration
	for pid, cpu := range after {
		total += cpu - before[pid]
	}
	return total
}

// saveDBCPU writes, to db-<system>.txt in the profile directory, the CPU
// time each server process of the replicas used in the window, most first,
// with its last query.
func (m *measurer) saveDBCPU(name string, before, after map[int]time.Duration) {
	pids := slices.Collect(maps.Keys(after))
	used := func(pid int) time.Duration { return after[pid] - before[pid] }
	slices.SortFunc(pids, func(a, b int) int { return int(used(b) - used(a)) })
	var sb strings.Builder
	for _, pid := range pids {
		fmt.Fprintf(&sb, "%8d %10s  %s\n", pid, used(pid), strings.Join(strings.Fields(m.queries[pid]), " "))
	}
	path := filepath.Join(m.cfg.Profile, "db-"+profileName(name)+".txt")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		fmt.Fprintln(m.cfg.Log, "scaleout: profile:", err)
	}
}

// profileName returns the name of the system measured as it goes in the
// profiles' file names.
func profileName(name string) string {
	return strings.NewReplacer(" ", "", ",", "-", "(", "", ")", "").Replace(name)
}

// profile saves a 5 s CPU profile and a goroutine dump of the first herald
// after wait.
func (m *measurer) profile(name string, wait time.Duration) {
	time.Sleep(max(0, wait-2500*time.Millisecond))
	file := profileName(name)
	save := func(path, out string) {
		resp, err := http.Get("http://" + m.pprof[0] + path)
		if err != nil {
			fmt.Fprintln(m.cfg.Log, "scaleout: profile:", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(m.cfg.Profile, out))
		if err != nil {
			fmt.Fprintln(m.cfg.Log, "scaleout: profile:", err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}
	go save("/debug/pprof/goroutine?debug=1", "goroutines-"+file+".txt")
	save("/debug/pprof/profile?seconds=5", "cpu-"+file+".pprof")
}

// Print writes results as a table: each throughput also as a share of the
// first result's (the floor, when it is first), and each herald process's
// CPU time per message.
func Print(w io.Writer, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "system\tsent\tdelivered\trefused\tmsgs/s\tp50\tp99\tof %s\tCPU µs/msg per process\tPostgreSQL CPU µs/msg\tvia River\t\n", results[0].Name)
	for _, r := range results {
		cpu := make([]string, len(r.CPU))
		for i, d := range r.CPU {
			cpu[i] = fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
		}
		if len(cpu) == 0 {
			cpu = []string{"-"}
		}
		db := "-"
		if r.DB > 0 {
			db = fmt.Sprintf("%.0f", float64(r.DB)/float64(time.Microsecond))
		}
		via := "-"
		if r.ViaRiver >= 0 && r.DB > 0 {
			via = fmt.Sprintf("%.0f%%", 100*r.ViaRiver)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%.0f%%\t%s\t%s\t%s\t\n", r.Name, r.Sent, r.Delivered, r.Failures, r.Throughput,
			r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), 100*r.Throughput/results[0].Throughput,
			strings.Join(cpu, " + "), db, via)
	}
	return tw.Flush()
}

// project is the benchmark's workflow; %s is the sandbox's URL.
const project = `provider "chatapi" {
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
`

// schema creates a fresh schema and returns the DSN that selects it (with
// a pool of 20 connections per replica, named by the application_name it
// returns too, the schema's name) and its removal.
func schema(ctx context.Context, dsn string) (string, string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "herald_bench_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
			_ = c.Close(context.Background())
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		drop()
		return "", "", nil, errors.New("the postgres dsn must be a url")
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("pool_max_conns", "20")
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), name, drop, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitUp waits until url answers method with anything but a connection
// error, or, for GET, with 200.
func waitUp(u, method string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(method, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if method != http.MethodGet || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", u)
}

// Median returns, for each system, the median of its figures over runs
// (each a Run's results, the same systems in the same order); each figure's
// median is taken on its own.
func Median(runs [][]Result) []Result {
	if len(runs) == 0 {
		return nil
	}
	out := make([]Result, len(runs[0]))
	for i := range out {
		pick := func(f func(Result) float64) float64 {
			v := make([]float64, 0, len(runs))
			for _, run := range runs {
				if i < len(run) {
					v = append(v, f(run[i]))
				}
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		r := runs[0][i]
		r.Sent = int(pick(func(r Result) float64 { return float64(r.Sent) }))
		r.Delivered = int(pick(func(r Result) float64 { return float64(r.Delivered) }))
		r.Failures = int(pick(func(r Result) float64 { return float64(r.Failures) }))
		r.Throughput = pick(func(r Result) float64 { return r.Throughput })
		r.P50 = time.Duration(pick(func(r Result) float64 { return float64(r.P50) }))
		r.P99 = time.Duration(pick(func(r Result) float64 { return float64(r.P99) }))
		r.DB = time.Duration(pick(func(r Result) float64 { return float64(r.DB) }))
		r.ViaRiver = pick(func(r Result) float64 { return r.ViaRiver })
		r.CPU = slices.Clone(r.CPU)
		for j := range r.CPU {
			r.CPU[j] = time.Duration(pick(func(r Result) float64 {
				if j < len(r.CPU) {
					return float64(r.CPU[j])
				}
				return 0
			}))
		}
		out[i] = r
	}
	return out
}
