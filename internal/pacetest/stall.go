package pacetest

import (
	"sync"
	"testing"
	"time"
)

// StallProbe measures the moments this process was kept from running, as
// on a machine whose load is many times its cores: a goroutine of its own
// sleeps probeSleep at a time and notes when it wakes; a wake later than
// probeSlack after the sleep's end is a stall. Time a test spent
// while the probe overslept by more than probeSlack is the machine's, not
// the code's under test: a pacer cannot send while its process gets no
// CPU, and a request cannot be answered.
type StallProbe struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	wakes []time.Time
}

// probeSleep is how long the probe sleeps between wakes; probeSlack is how
// much later than that it may wake without it counting as a stall: Go's
// time slice, for which a woken goroutine may wait its turn behind the
// others of a busy process (that process runs). Calibrated at load 24 on 2
// cores: with 10 ms, a paced blast's rate without the stalls came out at
// 193–210/s where the pacer aims at 194/s; with 2 ms, 246–297/s (the
// process's own scheduling counted as stalls).
const (
	probeSleep = time.Millisecond
	probeSlack = 10 * time.Millisecond
)

// StartStallProbe starts a probe; it stops when t ends, or on Stop.
func StartStallProbe(t testing.TB) *StallProbe {
	p := &StallProbe{stop: make(chan struct{}), done: make(chan struct{}), wakes: []time.Time{time.Now()}}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			time.Sleep(probeSleep)
			now := time.Now()
			p.mu.Lock()
			p.wakes = append(p.wakes, now)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.Stop)
	return p
}

// Stop stops the probe; it may be called more than once.
func (p *StallProbe) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Stalled returns how much of [from, to] the probe spent stalled: of each
// time from one wake to the next, what lies beyond probeSleep+probeSlack.
func (p *StallProbe) Stalled(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var total time.Duration
	for i := 1; i < len(p.wakes); i++ {
		start, end := p.wakes[i-1].Add(probeSleep+probeSlack), p.wakes[i]
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		if end.After(start) {
			total += end.Sub(start)
		}
	}
	return total
}
