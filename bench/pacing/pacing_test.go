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
	for _, mode := range []string{"unpaced", "paced"} {
		mu.Lock()
		times = times[:0]
		mu.Unlock()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHostProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "HERALD_PACING_HOST="+mode, "HERALD_PACING_SANDBOX="+srv.URL,
			"HERALD_PACING_ITEMS="+strconv.Itoa(items), "HERALD_PACING_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
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
		fmt.Printf("%-8s %7d items in %7.1f s: %7.1f/s at the sandbox, at most %d in any 1 s window; host peak RSS %.1f MiB, CPU %.3f ms per item\n",
			mode, items, r.Seconds, pace.Rate, pace.Peak, float64(r.PeakRSS)/1024, r.CPUMilli/float64(items))
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
	start := time.Now()
	run, err := e.Run(context.Background(), "blast", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"to": to}})
	require.NoError(t, err)
	require.EqualValues(t, "succeeded", run.Status)
	elapsed := time.Since(start)
	if path := os.Getenv("HERALD_PACING_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		require.NoError(t, err)
		require.NoError(t, pprof.WriteHeapProfile(f))
		require.NoError(t, f.Close())
	}
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
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b, _ := json.Marshal(result{Mode: mode, Items: items, Seconds: elapsed.Seconds(), PeakRSS: ru.Maxrss, CPUMilli: float64(cpu) / float64(time.Millisecond), Failed: failed})
	fmt.Printf("RESULT %s\n", b)
}
