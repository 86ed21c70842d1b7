package sdk

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// A plugin process runs its Go code on one processor (GOMAXPROCS=1) while
// one is enough, and on all of them once it is busy. Most of a plugin's
// calls wait on the network, and a call costs little CPU; but with a second
// processor idle, every goroutine hand-off of a call (gRPC's socket reader
// to the stream, the stream to gRPC's writer) wakes an OS thread to look for
// work, which finds none and sleeps again: measured as a fifth of a
// plugin's CPU per call on a 2-vCPU machine, where one processor takes it
// away. A plugin that is busy gets every processor back within one sample
// of its CPU use, so a CPU-heavy provider is not capped at one core. Until
// then, on one processor, a call that computes without pause holds the
// stream's other calls for up to the runtime's preemption slice (10 ms)
// instead of the stream's inline budget: a call that waits (on the network,
// a timer, a lock) frees the processor at once. An idle plugin on one
// processor stops sampling until a call arrives (or procsParkedCheck has
// passed), rather than waking ten times a second to find nothing to do.

// procsSampleEvery is how often the processor governor samples the
// process's CPU use.
const procsSampleEvery = 100 * time.Millisecond

// procsBusy is the share of one core, used over a sample, at which a plugin
// on one processor gets all of them back: it is then close to saturating
// its one processor, and calls would start to queue behind each other.
const procsBusy = 0.7

// procsCalm is the share of one core below which a plugin on all
// processors returns to one, once it has stayed below it for procsCalmFor
// samples in a row. The gap between procsCalm and procsBusy keeps a steady
// load from switching back and forth.
const procsCalm = 0.35

// procsCalmFor is how many calm samples in a row return a plugin to one
// processor.
const procsCalmFor = 10

// procsIdle is the share of one core under which a sample with no call is
// idle: a governor on one processor then stops sampling until a call
// arrives (or procsParkedCheck passes), so an idle plugin does not wake ten
// times a second to find it has nothing to do.
const procsIdle = 0.01

// procsParkedCheck is how often a parked governor samples anyway, for a
// plugin whose CPU use starts without any call (work of its own in the
// background): it gets every processor back within this much and one
// sample.
const procsParkedCheck = 5 * time.Second

// procActivity is how calls tell the processor governor that the plugin is
// in use: every call notes itself, at the cost of an atomic load or two.
type procActivity struct {
	// seen is set by a call and cleared by each sample.
	seen atomic.Bool
	// parked is set while the governor waits for a call to sample again.
	parked atomic.Bool
	// wake passes one call's note to the parked governor.
	wake chan struct{}
}

func newProcActivity() *procActivity { return &procActivity{wake: make(chan struct{}, 1)} }

// callActivity is the activity the plugin's calls note, for the governor
// governProcs starts.
var callActivity = newProcActivity()

// note records a call, and wakes the governor if it is parked.
func (a *procActivity) note() {
	if !a.seen.Load() {
		a.seen.Store(true)
	}
	if a.parked.Load() && a.parked.CompareAndSwap(true, false) {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// park waits, with parked set, until a call is noted, the ticker t fires or
// stop is closed; it reports false when stop was closed.
func (a *procActivity) park(t <-chan time.Time, stop <-chan struct{}) bool {
	a.parked.Store(true)
	// A call noted between the last sample and parked being set saw the
	// governor awake: it is not waited for.
	if a.seen.Load() && a.parked.CompareAndSwap(true, false) {
		return true
	}
	select {
	case <-a.wake:
	case <-t:
		if !a.parked.CompareAndSwap(true, false) {
			// A call unparked the governor meanwhile: take its
			// wake-up, so none is left for the next park.
			<-a.wake
		}
	case <-stop:
		return false
	}
	return true
}

// procGovernor decides a plugin's GOMAXPROCS from its CPU use: one
// processor while it uses little CPU, max once it is busy.
type procGovernor struct {
	// max is the processors a busy plugin gets: the runtime's default.
	max int
	// cur is the processors the plugin runs on now.
	cur int
	// calm counts the calm samples in a row on max processors.
	calm int
}

// next returns the processors the plugin runs on after a sample in which it
// used cpu of CPU time over wall of elapsed time.
func (g *procGovernor) next(cpu, wall time.Duration) int {
	if wall <= 0 {
		return g.cur
	}
	load := float64(cpu) / float64(wall) // in cores
	switch {
	case g.cur < g.max && load >= procsBusy:
		g.cur, g.calm = g.max, 0
	case g.cur == g.max && load < procsCalm:
		g.calm++
		if g.calm >= procsCalmFor {
			g.cur, g.calm = 1, 0
		}
	default:
		g.calm = 0
	}
	return g.cur
}

// governProcs starts the processor governor of a plugin process, unless
// the plugin's environment sets GOMAXPROCS (its owner's choice stands), the
// machine has one processor, or the platform cannot report the process's
// CPU time.
func governProcs() {
	max := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || max <= 1 {
		return
	}
	if _, ok := processCPU(); !ok {
		return
	}
	g := &procGovernor{max: max, cur: 1}
	runtime.GOMAXPROCS(1)
	cpu := func() time.Duration { t, _ := processCPU(); return t }
	go g.watch(procsSampleEvery, procsParkedCheck, cpu, setProcs, callActivity, nil)
}

// setProcs sets GOMAXPROCS to n, or to the runtime's default when n is
// max, and returns the processors the process runs on then.
func setProcs(n, max int) int {
	if n == max {
		// The runtime's default again, which follows later changes of
		// the CPUs the process may use.
		runtime.SetDefaultGOMAXPROCS()
		return runtime.GOMAXPROCS(0)
	}
	runtime.GOMAXPROCS(n)
	return n
}

// watch samples cpu, the process's CPU time, every period and applies the
// governor's decisions with set (which returns the processors it gave the
// process, the new max when it asked for max), until stop is closed. On one
// processor, after an idle sample (no call noted in act, under procsIdle of
// a core), it parks: it samples again once a call is noted, or after
// parkedEvery.
func (g *procGovernor) watch(every, parkedEvery time.Duration, cpu func() time.Duration, set func(n, max int) int, act *procActivity, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	cpu0, wall0 := cpu(), time.Now()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		cpu1, wall1 := cpu(), time.Now()
		used, wall := cpu1-cpu0, wall1.Sub(wall0)
		prev := g.cur
		if n := g.next(used, wall); n != prev {
			got := set(n, g.max)
			if n == g.max {
				g.max = got
			}
			g.cur = got
		}
		cpu0, wall0 = cpu1, wall1
		called := act.seen.Swap(false)
		if g.cur != 1 || called || float64(used) >= procsIdle*float64(wall) {
			continue
		}
		t.Reset(parkedEvery)
		if !act.park(t.C, stop) {
			return
		}
		// The next sample starts now: the parked time, idle, would
		// dilute a burst that woke the governor.
		t.Reset(every)
		cpu0, wall0 = cpu(), time.Now()
	}
}
