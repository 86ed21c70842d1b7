//go:build linux

package scheduler_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
)

var (
	benchWindow = flag.Duration("scheduler.window", 10*time.Second,
		"how long BenchmarkScheduler10000 measures each loaded phase")
	benchFireCost = flag.Duration("scheduler.firecost", 0,
		"how long each Fire call of BenchmarkScheduler10000 takes, to model a store write")
)

// BenchmarkScheduler10000 runs 10,000 cron triggers on the real clock and
// reports the lag between each fire's scheduled time and its Fire call, the
// process RSS and the CPU it uses, next to a floor measured in the same run:
// a bare time.Timer loop firing at the same instants.
//
// The triggers are 9,000 once-a-minute six-field schedules spread over the
// seconds ("S * * * * *", 150 fires a second), 990 once-a-minute schedules
// aligned to the same second in the middle of the window (the burst that
// minute schedules make at :00; 1,150 fires that second), and 10
// every-second schedules: 10,590 fires a minute. Each phase runs once whatever b.N is; read
// the reported metrics, not ns/op:
//
//	go test ./internal/scheduler -run '^$' -bench Scheduler10000 -count 5
//
// Targets: lag p99 at most 20 ms, RSS at most 100 MB.
func BenchmarkScheduler10000(b *testing.B) {
	window := *benchWindow
	t0 := time.Now().Truncate(time.Second).Add(3 * time.Second)
	t1 := t0.Add(window)
	burst := t0.Add(window / 2)
	entries := benchEntries(b, burst.Second())

	// The scheduler, loaded.
	lags, busyCPU, heapMB := measureScheduler(b, entries, t0, t1, burst)
	rss := readStatusKB(b, "VmRSS")
	hwm := readStatusKB(b, "VmHWM")

	// The scheduler, idle: 10,000 triggers that do not fire for hours.
	idleCPU := measureIdle(b, 3*time.Second)

	// The floor: a bare timer loop at the same instants.
	t0 = time.Now().Truncate(time.Second).Add(2 * time.Second)
	t1 = t0.Add(window)
	burst = t0.Add(window / 2)
	floor, floorCPU := measureFloor(benchEntries(b, burst.Second()), t0, t1, burst)

	b.ReportMetric(float64(len(lags.all())), "fires")
	b.ReportMetric(float64(len(floor.all())), "floor-fires")
	b.ReportMetric(ms(percentile(lags.all(), 50)), "lag-p50-ms")
	b.ReportMetric(ms(percentile(lags.all(), 99)), "lag-p99-ms")
	b.ReportMetric(ms(percentile(lags.all(), 100)), "lag-max-ms")
	b.ReportMetric(ms(percentile(lags.steady.result(), 99)), "lag-steady-p99-ms")
	b.ReportMetric(ms(percentile(lags.burst.result(), 99)), "lag-burst-p99-ms")
	b.ReportMetric(ms(percentile(floor.all(), 50)), "floor-p50-ms")
	b.ReportMetric(ms(percentile(floor.all(), 99)), "floor-p99-ms")
	b.ReportMetric(ms(percentile(floor.steady.result(), 99)), "floor-steady-p99-ms")
	b.ReportMetric(ms(percentile(floor.burst.result(), 99)), "floor-burst-p99-ms")
	b.ReportMetric(float64(rss)/1024, "rss-MB")
	b.ReportMetric(float64(hwm)/1024, "rss-peak-MB")
	b.ReportMetric(heapMB, "heap-MB")
	b.ReportMetric(busyCPU*1000, "cpu-busy-ms/s")
	b.ReportMetric(floorCPU*1000, "floor-cpu-ms/s")
	b.ReportMetric(idleCPU*1000, "cpu-idle-ms/s")
	if p99 := percentile(lags.all(), 99); p99 > 20*time.Millisecond {
		b.Logf("fire lag p99 %s is above the 20 ms target (floor %s)", p99, percentile(floor.all(), 99))
	}
	if rss > 100*1024 {
		b.Logf("RSS %d MB is above the 100 MB target", rss/1024)
	}
}

// benchEntries returns the 10,000 triggers of the benchmark; the minute
// schedules fire together at burst past the minute.
func benchEntries(b *testing.B, burst int) []scheduler.Entry {
	var out []scheduler.Entry
	add := func(schedule string) {
		sched, err := config.ParseSchedule(schedule)
		if err != nil {
			b.Fatal(err)
		}
		tr := &config.Trigger{Type: config.TriggerCron, Schedule: schedule, Timezone: "UTC", Location: time.UTC, Cron: sched}
		out = append(out, scheduler.Entry{Workflow: fmt.Sprintf("w%05d", len(out)), Key: scheduler.TriggerKey(0, tr), Trigger: tr})
	}
	for i := range 9000 {
		add(fmt.Sprintf("%d * * * * *", i%60))
	}
	for range 990 {
		add(fmt.Sprintf("%d * * * * *", burst))
	}
	for range 10 {
		add("* * * * * *")
	}
	return out
}

// lagLog collects fire lags from many goroutines without locking.
type lagLog struct {
	lags []time.Duration
	n    atomic.Int64
}

func newLagLog(capacity int) *lagLog { return &lagLog{lags: make([]time.Duration, capacity)} }

func (l *lagLog) add(lag time.Duration) {
	if i := l.n.Add(1) - 1; int(i) < len(l.lags) {
		l.lags[i] = lag
	}
}

func (l *lagLog) result() []time.Duration { return l.lags[:min(int(l.n.Load()), len(l.lags))] }

// lagLogs keeps the lags of the burst second apart from the steady ones.
type lagLogs struct {
	steady, burst *lagLog
	t0, t1, at    time.Time
}

func newLagLogs(t0, t1, burst time.Time) *lagLogs {
	return &lagLogs{steady: newLagLog(200_000), burst: newLagLog(10_000), t0: t0, t1: t1, at: burst}
}

// add records the lag of a fire scheduled at at, when at is in the window.
func (l *lagLogs) add(at time.Time, lag time.Duration) {
	switch {
	case at.Before(l.t0) || !at.Before(l.t1):
	case at.Equal(l.at):
		l.burst.add(lag)
	default:
		l.steady.add(lag)
	}
}

func (l *lagLogs) all() []time.Duration {
	return append(slices.Clone(l.steady.result()), l.burst.result()...)
}

// measureScheduler runs the scheduler over entries and returns the lags of
// the fires scheduled in [t0, t1), the CPU seconds used per second then and
// the heap in use, in MB.
func measureScheduler(b *testing.B, entries []scheduler.Entry, t0, t1, burst time.Time) (*lagLogs, float64, float64) {
	lags := newLagLogs(t0, t1, burst)
	cost := *benchFireCost
	s, err := scheduler.New(scheduler.Options{
		Store: newMemStore(),
		Fire: func(_ context.Context, d scheduler.Due) error {
			lags.add(d.ScheduledTime, time.Since(d.ScheduledTime))
			if cost > 0 {
				time.Sleep(cost)
			}
			return nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetTriggers(entries); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	runtime.GC()
	time.Sleep(time.Until(t0))
	cpu0 := cpuTime(b)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	time.Sleep(time.Until(t1))
	cpu := (cpuTime(b) - cpu0).Seconds() / t1.Sub(t0).Seconds()
	time.Sleep(100*time.Millisecond + cost*time.Duration(len(entries))/scheduler.DefaultWorkers)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return lags, cpu, float64(ms.HeapInuse) / (1 << 20)
}

// measureIdle runs 10,000 triggers that do not fire for d and returns the
// CPU seconds the process used per second.
func measureIdle(b *testing.B, d time.Duration) float64 {
	hour := (time.Now().UTC().Hour() + 12) % 24
	var entries []scheduler.Entry
	for i := range 10_000 {
		schedule := fmt.Sprintf("%d %d %d * * *", i%60, (i/60)%60, hour)
		sched, err := config.ParseSchedule(schedule)
		if err != nil {
			b.Fatal(err)
		}
		tr := &config.Trigger{Type: config.TriggerCron, Schedule: schedule, Timezone: "UTC", Location: time.UTC, Cron: sched}
		entries = append(entries, scheduler.Entry{Workflow: fmt.Sprintf("w%05d", i), Key: scheduler.TriggerKey(0, tr), Trigger: tr})
	}
	s, err := scheduler.New(scheduler.Options{Store: newMemStore(), Fire: func(context.Context, scheduler.Due) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetTriggers(entries); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(time.Second) // start-up and the first state writes
	runtime.GC()
	cpu0, wall0 := cpuTime(b), time.Now()
	time.Sleep(d)
	cpu := (cpuTime(b) - cpu0).Seconds() / time.Since(wall0).Seconds()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return cpu
}

// measureFloor fires the instants of entries in [t0, t1) with one bare
// time.Timer, and returns their lags and the CPU seconds used per second.
func measureFloor(entries []scheduler.Entry, t0, t1, burst time.Time) (*lagLogs, float64) {
	counts := map[time.Time]int{}
	for _, e := range entries {
		for at := scheduler.Next(e.Trigger, t0.Add(-time.Nanosecond)); at.Before(t1); at = scheduler.Next(e.Trigger, at) {
			counts[at]++
		}
	}
	instants := make([]time.Time, 0, len(counts))
	for at := range counts {
		instants = append(instants, at)
	}
	slices.SortFunc(instants, time.Time.Compare)

	lags := newLagLogs(t0, t1, burst)
	fire := func(at time.Time) { lags.add(at, time.Since(at)) }
	time.Sleep(time.Until(t0) - 500*time.Millisecond)
	cpu0, wall0 := cpuTime(nil), time.Now()
	timer := time.NewTimer(time.Hour)
	for _, at := range instants {
		timer.Reset(time.Until(at))
		<-timer.C
		for range counts[at] {
			fire(at)
		}
	}
	cpu := (cpuTime(nil) - cpu0).Seconds() / time.Since(wall0).Seconds()
	return lags, cpu
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil && b != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readStatusKB returns a kB field of /proc/self/status, such as VmRSS.
func readStatusKB(b *testing.B, field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// percentile returns the p-th percentile of lags (100 is the maximum).
func percentile(lags []time.Duration, p int) time.Duration {
	if len(lags) == 0 {
		return 0
	}
	s := slices.Clone(lags)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkNext measures one next-fire computation with the scheduler's
// daylight-saving rules, next to robfig/cron's own Next in the same zone (the
// baseline, which gets the transitions wrong).
func BenchmarkNext(b *testing.B) {
	for _, schedule := range []string{"30 2 * * *", "*/15 * * * *", "* * * * * *"} {
		tr := &config.Trigger{Type: config.TriggerCron, Schedule: schedule}
		sched, err := config.ParseSchedule(schedule)
		if err != nil {
			b.Fatal(err)
		}
		loc, err := time.LoadLocation(berlin)
		if err != nil {
			b.Fatal(err)
		}
		tr.Cron, tr.Location, tr.Timezone = sched, loc, berlin
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
		b.Run(schedule+"/scheduler", func(b *testing.B) {
			at := from
			for b.Loop() {
				if at = scheduler.Next(tr, at); at.Year() > 2100 {
					at = from
				}
			}
		})
		b.Run(schedule+"/robfig", func(b *testing.B) {
			zoned, err := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor).
				Parse("CRON_TZ=" + berlin + " " + schedule)
			if err != nil {
				b.Fatal(err)
			}
			at := from
			for b.Loop() {
				if at = zoned.Next(at); at.Year() > 2100 {
					at = from
				}
			}
		})
	}
}
