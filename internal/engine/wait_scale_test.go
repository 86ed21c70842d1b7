package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
	"github.com/heraldhq/herald/internal/timers"
)

// TestWaitScale parks many runs on a wait_for (HERALD_BENCH_WAITS of them,
// 10,000 in the benchmark; 300 by default, as CI runs it) and
// measures, each beside a baseline taken in the same run:
//   - the process's RSS with every run waiting, against the RSS before;
//   - the throughput of matching receipts against the waiting runs (one
//     receipt per run, 16 senders), against the store's bare write of the
//     inbox row every receipt costs;
//   - the fire lag of the waits' timers ending the other half of the waits
//     in the store (deadlines 1 ms apart: 1,000 timeouts a second),
//     against the timers alone with a no-op.
func TestWaitScale(t *testing.T) {
	n := 300
	if v := os.Getenv("HERALD_BENCH_WAITS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	b := setup(t, `
workflow "ack" {
  step "page" {
    uses = "primary.send"
    with = { to = "{{ run.id }}" }
  }
  step "ack" {
    wait_for {
      event    = "fake.ack"
      provider = "primary"
      match    = "event.id == steps.page.output.id"
      timeout  = "1h"
    }
  }
}`)
	ctx := context.Background()
	runtime.GC()
	rssBefore := rssMB(t)

	// concurrently runs fn for 0..count-1 on 16 goroutines.
	concurrently := func(count int, fn func(i int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= count {
						return
					}
					fn(i)
				}
			}()
		}
		wg.Wait()
		return time.Since(t0)
	}
	ids := make([]string, n)
	parkTime := concurrently(n, func(i int) {
		run, err := b.engine.Run(ctx, "ack", engine.Trigger{Kind: engine.KindManual})
		if err != nil || run.Status != store.StatusWaiting {
			t.Errorf("run %d: %v %s", i, err, run.Status)
			return
		}
		ids[i] = run.ID
	})
	require.False(t, t.Failed())
	runtime.GC()
	rssWaiting := rssMB(t)

	half := n / 2
	ws := b.store.(store.Waits)
	cpu0 := cpuTime(t)
	baseline := concurrently(half, func(i int) {
		err := ws.AddInboxEvent(ctx, store.InboxEvent{Event: "fake.other", Instance: "primary",
			Data: json.RawMessage(`{"id":"x"}`), ReceivedAt: time.Now()})
		if err != nil {
			t.Error(err)
		}
	})
	cpu1 := cpuTime(t)
	var resumed atomic.Int64
	matching := concurrently(half, func(i int) {
		ev := json.RawMessage(`{"id":"msg-` + ids[i] + `-1","status":"viewed"}`)
		runs, err := b.engine.DeliverEvent(ctx, "primary", "fake.ack", ev)
		if err != nil {
			t.Error(err)
		}
		resumed.Add(int64(len(runs)))
	})
	cpu2 := cpuTime(t)
	require.EqualValues(t, half, resumed.Load(), "each receipt resumes its run, and only it")

	// Timers: the second half of the waits end at deadlines spread over
	// one second, a second from now.
	lags := func(fire func(ctx context.Context, k timers.Key)) []time.Duration {
		var mu sync.Mutex
		var out []time.Duration
		var done sync.WaitGroup
		tm := timers.New(func(ctx context.Context, k timers.Key, at time.Time) {
			fire(ctx, k)
			lag := time.Since(at)
			mu.Lock()
			out = append(out, lag)
			mu.Unlock()
			done.Done()
		}, timers.Options{Workers: 32})
		base := time.Now().Add(time.Second)
		rest := ids[half:]
		done.Add(len(rest))
		// 1,000 deadlines a second, a steady high rate of timeouts.
		spread := max(time.Second, time.Duration(len(rest))*time.Millisecond)
		for i, id := range rest {
			tm.Set(timers.Key{RunID: id, StepID: "ack", Item: store.NoItem}, base.Add(time.Duration(i)*spread/time.Duration(len(rest))))
		}
		tctx, cancel := context.WithCancel(ctx)
		go tm.Run(tctx)
		done.Wait()
		cancel()
		slices.Sort(out)
		return out
	}
	bare := lags(func(context.Context, timers.Key) {})
	var timedOut atomic.Int64
	cpu3 := cpuTime(t)
	withStore := lags(func(ctx context.Context, k timers.Key) {
		requeued, err := b.engine.ResolveTimeout(ctx, engine.WaitKey{RunID: k.RunID, StepID: k.StepID, Item: k.Item})
		if err != nil {
			t.Error(err)
		}
		if requeued {
			timedOut.Add(1)
		}
	})
	cpu4 := cpuTime(t)
	require.EqualValues(t, n-half, timedOut.Load())

	perSec := func(count int, d time.Duration) float64 { return float64(count) / d.Seconds() }
	report := []string{
		fmt.Sprintf("waits=%d parked in %s (%.0f runs/s)", n, parkTime.Round(time.Millisecond), perSec(n, parkTime)),
		fmt.Sprintf("RSS: %.1f MB with %d runs waiting; baseline before the runs %.1f MB", rssWaiting, n, rssBefore),
		fmt.Sprintf("event matching: %.0f events/s (%d receipts, 16 senders); baseline inbox write alone %.0f writes/s",
			perSec(half, matching), half, perSec(half, baseline)),
		fmt.Sprintf("CPU of the process per event: matching %s; baseline inbox write %s",
			((cpu2 - cpu1) / time.Duration(half)).Round(time.Microsecond), ((cpu1 - cpu0) / time.Duration(half)).Round(time.Microsecond)),
		fmt.Sprintf("timeout fire lag (ending the wait in the store): p50 %s p99 %s max %s (CPU %s a timeout); baseline timers alone p50 %s p99 %s",
			pct(withStore, 50), pct(withStore, 99), withStore[len(withStore)-1].Round(time.Microsecond),
			((cpu4 - cpu3) / time.Duration(n-half)).Round(time.Microsecond), pct(bare, 50), pct(bare, 99)),
	}
	for _, line := range report {
		testfigures.Report(t, line)
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(time.Microsecond)
}

// cpuTime returns the CPU time (user and system) the process used so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skip("no getrusage")
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMB reads the process's resident set size from /proc.
func rssMB(t *testing.T) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
