package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestParseMachineTicks reads the kinds of CPU time from a /proc/stat
// first line: nice counts as user, iowait as idle, irq and softirq
// together, steal only in the total.
func TestParseMachineTicks(t *testing.T) {
	got, err := parseMachineTicks("cpu  100 5 40 800 20 3 7 2 0 0\ncpu0 50 2 20 400 10 1 3 1 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	want := machineTicks{User: 105, System: 40, IRQ: 10, Idle: 820, Total: 977}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	d := machineTicks{User: 205, System: 90, IRQ: 20, Idle: 1020, Total: 1337}.sub(got)
	if d.Total != 360 || d.Idle != 200 {
		t.Fatalf("sub: %+v", d)
	}
	if b := d.busy(); b < 0.4444 || b > 0.4445 {
		t.Fatalf("busy %v, want 160/360", b)
	}
	if (machineTicks{}).busy() != 0 {
		t.Fatal("no time read as busy")
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if _, err := parseMachineTicks(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := readMachineTicks(); err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
}

// TestCtxSwitches sums the context switches of every thread: a Go test
// binary runs several, and its first thread's own count is not the sum.
func TestCtxSwitches(t *testing.T) {
	v, n, err := parseCtxSwitches("Name:\tx\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n")
	if err != nil || v != 12 || n != 3 {
		t.Fatalf("parse: %d, %d, %v", v, n, err)
	}
	if _, _, err := parseCtxSwitches("Name:\tx\nvoluntary_ctxt_switches:\t12\n"); err == nil {
		t.Fatal("a status without nonvoluntary_ctxt_switches: no error")
	}
	if _, _, err := parseCtxSwitches("voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t3\n"); err == nil {
		t.Fatal("a count that is not a number: no error")
	}
	if _, err := os.Stat("/proc/thread-self/status"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	// A thread of its own, which sleeps 50 times, switches voluntarily at
	// least 50 times; the process's sum counts it beside the first thread.
	// A goroutine that locks the first thread holds it, so the next runs
	// on another.
	own, release := make(chan uint64), make(chan struct{})
	defer close(release)
	var threadSwitches uint64
	for range 2 {
		go func() {
			runtime.LockOSThread() // the thread ends with the goroutine
			if syscall.Gettid() == os.Getpid() {
				own <- onFirstThread
				<-release
				return
			}
			for range 50 {
				time.Sleep(100 * time.Microsecond)
			}
			b, err := os.ReadFile("/proc/thread-self/status")
			v, _, perr := parseCtxSwitches(string(b))
			if err != nil || perr != nil {
				t.Error(err, perr)
			}
			own <- v
			<-release // keep the thread until the sum is read
		}()
		if threadSwitches = <-own; threadSwitches != onFirstThread {
			break
		}
	}
	if threadSwitches < 50 {
		t.Fatalf("a thread that slept 50 times switched %d times", threadSwitches)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := parseCtxSwitches(string(b))
	if err != nil {
		t.Fatal(err)
	}
	v, _, err = ctxSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if v < first+threadSwitches {
		t.Fatalf("the process's %d voluntary switches, fewer than its first thread's %d and the sleeping thread's %d", v, first, threadSwitches)
	}
}

// onFirstThread is what TestCtxSwitches's thread reports when it is the
// process's first, where it stays until the test ends.
const onFirstThread = ^uint64(0)

// TestParseCommits reads the SQLite commits' count and time from herald's
// metrics and ignores the other operations; no commit line reads as none.
func TestParseCommits(t *testing.T) {
	text := `# TYPE herald_store_wait_seconds histogram
herald_store_wait_seconds_bucket{op="commit",le="0.0005"} 3
herald_store_wait_seconds_sum{op="commit"} 0.25
herald_store_wait_seconds_count{op="commit"} 40
herald_store_wait_seconds_sum{op="create_run"} 9
herald_store_wait_seconds_count{op="create_run"} 90
`
	got, err := parseCommits(text)
	if err != nil {
		t.Fatal(err)
	}
	if got != (commitStats{count: 40, seconds: 0.25}) {
		t.Fatalf("got %+v", got)
	}
	if got, err := parseCommits("herald_up 1\n"); err != nil || got != (commitStats{}) {
		t.Fatalf("no commits: %+v, %v", got, err)
	}
	if _, err := parseCommits(`herald_store_wait_seconds_count{op="commit"} x` + "\n"); err == nil {
		t.Fatal("a count that is not a number: no error")
	}
}
