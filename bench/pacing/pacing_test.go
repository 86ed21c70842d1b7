// Package pacing_test measures a paced for_each fan-out against the
// sandbox, next to the same fan-out unpaced, each in a host process of its
// own so that its peak RSS and CPU time are its own.
package pacing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pacetest"
	"github.com/heraldhq/herald/internal/providers/chatapi"
	chatapifake "github.com/heraldhq/herald/internal/providers/chatapi/fake"
	"github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// declared is the chatapi provider declaring a 200/s instance limit, as a
// plugin's describe would.
type declared struct{ sdk.Provider }

func (d declared) Spec() *sdk.Spec {
	spec := *d.Provider.Spec()
	spec.Limits = &sdk.Limits{Rate: "200/s"}
	return &spec
}

// result is what a host process reports of its run.
type result struct {
	Mode     string  `json:"mode"`
	Items    int     `json:"items"`
	Seconds  float64 `json:"seconds"`
	PeakRSS  int64   `json:"peak_rss_kib"`
	ViewRSS  int64   `json:"view_rss_kib"`
	CPUMilli float64 `json:"cpu_ms"`
	Failed   int     `json:"failed"`
}

// TestPacedFanOut prints the pacing benchmark's table. A 100,000-item
// paced run takes about 8.5 minutes, so it runs only with
// HERALD_BENCH_PACING=1; HERALD_BENCH_PACING_ITEMS sets the size:
//
//	HERALD_BENCH_PACING=1 go test ./bench/pacing -run TestPacedFanOut -v -timeout 30m
func TestPacedFanOut(t *testing.T) {
	if os.Getenv("HERALD_BENCH_PACING") != "1" {
		t.Skip("HERALD_BENCH_PACING is not 1; skipping the pacing benchmark")
	}
	items := 100_000
	if s := os.Getenv("HERALD_BENCH_PACING_ITEMS"); s != "" {
		var err error
		items, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	sb := providers.New()
	sb.Keep = 1000
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sendMessage") {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		}
		sb.ServeHTTP(w, r)
	}))
	defer srv.Close()

	var rows []result
	modes := []string{"unpaced", "paced"}
	if s := os.Getenv("HERALD_BENCH_PACING_MODES"); s != "" {
		modes = strings.Split(s, ",")
	}
	for _, mode := range modes {
		mu.Lock()
		times = times[:0]
		mu.Unlock()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHostProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "HERALD_PACING_HOST="+mode, "HERALD_PACING_SANDBOX="+srv.URL,
			"HERALD_PACING_ITEMS="+strconv.Itoa(items), "HERALD_PACING_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		if os.Getenv("HERALD_PACING_TRACE") != "" {
			os.Stdout.Write(out)
		}
		var r result
		for _, line := range strings.Split(string(out), "\n") {
			if s, ok := strings.CutPrefix(line, "RESULT "); ok {
				require.NoError(t, json.Unmarshal([]byte(s), &r))
			}
		}
		require.Equal(t, mode, r.Mode, "%s", out)
		rows = append(rows, r)
		mu.Lock()
		got := append([]time.Time(nil), times...)
		mu.Unlock()
		require.Zero(t, r.Failed, "no item failed: %s", out)
		require.Equal(t, items, len(got), "every item reached the sandbox once")
		pace := pacetest.Measure(got, time.Second)
		fmt.Printf("%-8s %7d items in %7.1f s: %7.1f/s at the sandbox, at most %d in any 1 s window; host peak RSS %.1f MiB (%.1f MiB once the run object with its items was read), CPU %.3f ms per item\n",
			mode, items, r.Seconds, pace.Rate, pace.Peak, float64(r.PeakRSS)/1024, float64(r.ViewRSS)/1024, r.CPUMilli/float64(items))
		if mode == "paced" {
			require.LessOrEqual(t, r.PeakRSS, int64(150*1024), "host RSS stays within 150 MB")
		}
	}
}

// TestHostProcess is the host of one benchmark run: it runs only as the
// child TestPacedFanOut starts.
func TestHostProcess(t *testing.T) {
	mode := os.Getenv("HERALD_PACING_HOST")
	if mode == "" {
		t.Skip("runs only as TestPacedFanOut's host process")
	}
	items, err := strconv.Atoi(os.Getenv("HERALD_PACING_ITEMS"))
	require.NoError(t, err)
	limit := ""
	if mode == "unpaced" {
		limit = `rate_limit = "none"`
	}
	cfg, err := json.Marshal(chatapifake.ProviderConfig(os.Getenv("HERALD_PACING_SANDBOX") + providers.ChatAPIPrefix))
	require.NoError(t, err)
	plugin := declared{chatapi.New()}
	proj, diags := config.LoadSources([]config.Source{{Name: "p.hcl", Data: []byte(`
provider "chatapi" {
  ` + limit + `
}
workflow "blast" {
  step "each" {
    for_each          = "{{ trigger.body.to }}"
    parallelism       = 64
    continue_on_error = true
    uses              = "chatapi.send_message"
    with              = { phone = "49151000{{ item }}", body = "Hello" }
  }
}`)}}, config.LoadOptions{Spec: func(string) (*sdk.Spec, error) { return plugin.Spec(), nil }})
	require.False(t, diags.HasErrors(), "%v", diags)
	srv := sdk.NewServer(plugin, nil)
	require.NoError(t, srv.Configure(context.Background(), "chatapi", cfg))
	st, err := sqlitestore.Open(context.Background(), filepath.Join(os.Getenv("HERALD_PACING_DIR"), "herald.db"))
	require.NoError(t, err)
	defer st.Close()
	e, err := engine.New(engine.Options{Project: proj, Store: st, Client: func(context.Context, string) (sdk.Client, error) { return srv, nil }})
	require.NoError(t, err)
	to := make([]any, items)
	for i := range to {
		to[i] = i // small numbers: a rendered for_each list is at most 1 MiB
	}
	stopPeak := make(chan struct{})
	peakDone := make(chan struct{})
	go func() {
		defer close(peakDone)
		profileAtPeak(os.Getenv("HERALD_PACING_HEAPPROFILE"), stopPeak)
	}()
	start := time.Now()
	run, err := e.Run(context.Background(), "blast", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"to": to}})
	require.NoError(t, err)
	require.EqualValues(t, "succeeded", run.Status)
	elapsed := time.Since(start)
	close(stopPeak)
	<-peakDone
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	runRSS := ru.Maxrss
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	view, err := engine.View(context.Background(), st, run.ID)
	require.NoError(t, err)
	require.Len(t, view.Steps, 1)
	require.NotNil(t, view.Steps[0].Progress, "%+v", view.Steps[0])
	require.Equal(t, items, view.Steps[0].Progress.Done)
	failed := view.Steps[0].Progress.Failed
	for _, it := range view.Steps[0].Items {
		if it.Error != "" && failed > 0 {
			fmt.Printf("first failure: %s\n", it.Error)
			break
		}
	}
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	b, _ := json.Marshal(result{Mode: mode, Items: items, Seconds: elapsed.Seconds(), PeakRSS: runRSS, ViewRSS: ru.Maxrss, CPUMilli: float64(cpu) / float64(time.Millisecond), Failed: failed})
	fmt.Printf("RESULT %s\n", b)
}

// profileAtPeak writes the heap profile to path (when it is not empty)
// each time the heap in use grows by a tenth over the highest seen, so
// that the file holds the profile of the run's peak, until stop is closed.
func profileAtPeak(path string, stop <-chan struct{}) {
	if path == "" {
		return
	}
	var peak uint64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if os.Getenv("HERALD_PACING_TRACE") != "" {
			b, _ := os.ReadFile("/proc/self/statm")
			fmt.Printf("TRACE %s statm=%s heapinuse=%dM heapsys=%dM stack=%dM gcsys=%dM other=%dM\n", time.Now().Format("15:04:05.000"), strings.TrimSpace(string(b)), ms.HeapInuse>>20, ms.HeapSys>>20, ms.StackInuse>>20, ms.GCSys>>20, ms.OtherSys>>20)
		}
		if ms.HeapInuse < peak+peak/10 {
			continue
		}
		peak = ms.HeapInuse
		f, err := os.Create(path)
		if err != nil {
			return
		}
		_ = pprof.WriteHeapProfile(f)
		_ = f.Close()
	}
}
