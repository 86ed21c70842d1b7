package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHarnessQuick runs the whole harness at its -quick size (one round of
// 1 s measurements): every system delivers, every process is sampled, the
// synchronous webhook answers 200 and the accepted one 202, and the report
// has its tables and targets.
func TestHarnessQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald, its plugin and the floors")
	}
	cfg := config{Root: "..", Out: &bytes.Buffer{}}
	cfg.quick()
	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.Out.(*bytes.Buffer).String()
	t.Log(out)
	for _, m := range rep.modes {
		for _, sys := range rep.systems {
			ms := rep.byMode[m.name][sys.name]
			if len(ms) != cfg.Rounds {
				t.Fatalf("%s, %s: %d measurements, want %d", sys.name, m.name, len(ms), cfg.Rounds)
			}
			got := ms[0]
			if got.Delivered == 0 || got.Arrived == 0 || got.Throughput <= 0 || got.P50 <= 0 {
				t.Errorf("%s, %s: nothing measured: %+v", sys.name, m.name, got.Result)
			}
			if got.Failures > 0 {
				t.Errorf("%s, %s: %d webhooks refused", sys.name, m.name, got.Failures)
			}
			for i, p := range sys.procs {
				if got.RSS[i] <= 0 {
					t.Errorf("%s %s: RSS %.1f MiB", sys.name, p.role, got.RSS[i])
				}
			}
			if sum(got.CPU) <= 0 {
				t.Errorf("%s, %s: no CPU time sampled", sys.name, m.name)
			}
			if got.Machine.Total == 0 || got.BenchCPU <= 0 {
				t.Errorf("%s, %s: the machine's or the bench process's CPU time not sampled: %+v, %.0f µs", sys.name, m.name, got.Machine, got.BenchCPU)
			}
			if sum(got.Switches) <= 0 {
				t.Errorf("%s, %s: no context switches counted", sys.name, m.name)
			}
			if sys.herald && (got.CommitsPerMsg <= 0 || got.CommitMs <= 0) {
				t.Errorf("%s, %s: no SQLite commits read from /metrics: %.2f a message, %.2f ms", sys.name, m.name, got.CommitsPerMsg, got.CommitMs)
			}
			synchronous := strings.Contains(sys.name, "respond=output")
			if synchronous && got.Answered200 == 0 {
				t.Errorf("%s, %s: no webhook answered 200", sys.name, m.name)
			}
			if !synchronous && got.Answered200 > 0 {
				t.Errorf("%s, %s: %d webhooks answered 200, want 202", sys.name, m.name, got.Answered200)
			}
		}
	}
	for _, want := range []string{"floor (no persistence)", "durable floor (SQLite FULL)", "herald, respond=accepted", "herald, respond=output",
		"closed loop, 8 clients", "sequential, 1 client, each webhook after the last message arrived", "targets of issue 16", "host+plugin CPU ≤ 350 µs/msg",
		"busy", "bench µs/msg", "load average", "commits per message", "switches host"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
