package engine

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// pacer enforces the provider instances' limits for one Engine, across
// every run and workflow it executes: a call first waits for its
// recipient's budget (when the action has a per-recipient limit), then
// for a slot of its instance, which the instance's fairQueue hands to the
// waiting runs in turn at the instance's current AIMD rate. The budgets
// themselves live in a RateLimiter: memory, or PostgreSQL shared by
// replicas. The pacer outlives project reloads; each call reads the
// limits of the project version it runs with.
type pacer struct {
	budget RateLimiter
	// shared is set when budget is shared with other processes.
	shared bool
	now    func() time.Time
	// report is told an instance's effective rate when AIMD changes it.
	report func(instance string, rate float64)

	mu         sync.Mutex
	instances  map[string]*instancePace
	recipients recipientKeys
	// sent keeps the calls of this process within each limit's window
	// right where they are sent (see space).
	sent sendWindow
	// leases hold this process's send slots of each instance's shared
	// budget, in scale-out.
	leases map[string]*sendLease
}

// headroom is the share of a limit the pacer aims at: scheduling and
// network delays shift each call a little, and a 3% margin keeps a
// provider's own 1-second windows within the limit when they do. At 2%
// the full-size check (100,000 items at 200/s, 2026-12-07) saw 202 calls in
// one 1-second window where they reach the client, from delays between the
// pacer's release and the call of up to tens of milliseconds.
const headroom = 0.97

// instancePace is the state of one instance's limit.
type instancePace struct {
	queue fairQueue
	aimd  aimd
	// reported is the last effective rate given to report.
	reported float64
}

func newPacer(budget RateLimiter, report func(string, float64)) *pacer {
	shared := budget != nil
	if budget == nil {
		budget = newMemoryBudget()
	}
	if report == nil {
		report = func(string, float64) {}
	}
	return &pacer{budget: budget, shared: shared, now: time.Now, report: report, instances: map[string]*instancePace{}}
}

func (p *pacer) instance(name string) *instancePace {
	p.mu.Lock()
	defer p.mu.Unlock()
	ip := p.instances[name]
	if ip == nil {
		ip = &instancePace{}
		p.instances[name] = ip
	}
	return ip
}

// wait blocks until run may call action of prov with input, and reports
// how long it waited. An error (ctx ended, the budget failed) means the
// call must not be made now.
func (p *pacer) wait(ctx context.Context, run string, prov *config.Provider, action string, input json.RawMessage) (time.Duration, error) {
	if prov == nil {
		return 0, nil
	}
	start := time.Now()
	if rl := prov.RecipientLimits[action]; rl != nil {
		key, err := p.recipients.key(rl, input)
		if err != nil {
			return 0, err
		}
		if key != "" {
			d, err := p.budget.Reserve(ctx, prov.Name+":"+key, interval(rl.Rate), rl.Burst)
			if err != nil {
				return time.Since(start), err
			}
			if err := sleep(ctx, d); err != nil {
				return time.Since(start), err
			}
		}
	}
	if rl := prov.RateLimit; rl != nil && rl.Rate > 0 {
		ip := p.instance(prov.Name)
		w, first := ip.queue.enqueue(run)
		if first {
			go p.dispatch(prov.Name, ip, rl)
		}
		if err := ip.queue.wait(ctx, w); err != nil {
			return time.Since(start), err
		}
	}
	return time.Since(start), nil
}

// dispatch hands out instance's slots to its waiting calls, one per
// reserved slot of the budget at the current AIMD rate, until none waits.
// It reserves each slot before it grants the one before, so that being
// woken a little late does not cost the instance its pace.
func (p *pacer) dispatch(instance string, ip *instancePace, rl *config.RateLimit) {
	reserve := func() (time.Time, error) {
		rate := rl.Rate * ip.aimd.share(p.now())
		p.noteRate(instance, ip, rate, rl.Rate)
		rate *= headroom
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A burst of at least 2 lets a dispatcher woken late catch up one
		// slot instead of losing it; space keeps the sends apart.
		d, err := p.budget.Reserve(ctx, instance, interval(rate), max(rl.Burst, 2))
		return time.Now().Add(d), err
	}
	if !ip.queue.waiting() {
		return
	}
	slot, err := reserve()
	for {
		if err != nil {
			// The budget failed: the next call fails with it, and the
			// dispatcher tries again a little later.
			if !ip.queue.grant(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
			if !ip.queue.waiting() {
				return
			}
			slot, err = reserve()
			continue
		}
		time.Sleep(time.Until(slot))
		nextSlot, nextErr := reserve()
		if !ip.queue.grant(nil) || !ip.queue.waiting() {
			// The slot reserved ahead is not used: the instance sees
			// one call fewer, never one more.
			return
		}
		slot, err = nextSlot, nextErr
	}
}

// space waits, right before a call that wait let through is sent, until
// sending it keeps every window of the instance's period (a second for
// "200/s") within the limit at the current pace, and at least half an
// interval after the previous send. Between wait and the send the engine
// records the attempt's start; a slow store commit would otherwise
// release calls granted apart in one bunch.
func (p *pacer) space(ctx context.Context, prov *config.Provider) error {
	if prov == nil || prov.RateLimit == nil || prov.RateLimit.Rate <= 0 {
		return nil
	}
	rl := prov.RateLimit
	share := headroom * p.instance(prov.Name).aimd.share(p.now())
	n := int(float64(rl.Count) * share)
	gap := interval(rl.Rate*share) / 2
	if rl.Burst > 1 {
		gap = 0
	}
	if err := p.sent.wait(ctx, prov.Name, n, rl.Per, gap); err != nil {
		return err
	}
	if !p.shared {
		return nil
	}
	// Replicas send at different moments after their grants, so in
	// scale-out the sends themselves take slots of a second shared budget
	// at exact instants (see sendLease): together the replicas' sends stay
	// within the limit in every window.
	iv := interval(rl.Rate * share)
	if cb, ok := p.budget.(ClockedRateLimiter); ok && rl.Burst <= 1 {
		return p.lease(prov.Name).take(ctx, cb, prov.Name+"#send", iv, lateness(rl, iv))
	}
	// A bucket that may send Burst calls at once is not spaced, and a
	// budget that cannot say when a slot comes on its clock is slept for.
	d, err := p.budget.Reserve(ctx, prov.Name+"#send", iv, rl.Burst)
	if err != nil {
		return err
	}
	return sleep(ctx, d)
}

// lease returns instance's send lease.
func (p *pacer) lease(instance string) *sendLease {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leases == nil {
		p.leases = map[string]*sendLease{}
	}
	l := p.leases[instance]
	if l == nil {
		l = &sendLease{}
		p.leases[instance] = l
	}
	return l
}

// lateness is how late after its slot a send may still go out. Sends at
// most tol after slots spaced iv apart put at most ceil((Per+tol)/iv)
// sends in any window of Per; tol is half of what keeps that within
// Count+1, the other half being left for the moments between the pacer's
// release and the provider's receipt.
func lateness(rl *config.RateLimit, iv time.Duration) time.Duration {
	return max((time.Duration(rl.Count+1)*iv-rl.Per)/2, 0)
}

// limited lowers instance's rate after a rate_limited answer.
func (p *pacer) limited(prov *config.Provider) {
	if prov == nil || prov.RateLimit == nil || prov.RateLimit.Rate <= 0 {
		return
	}
	ip := p.instance(prov.Name)
	now := p.now()
	if ip.aimd.decrease(now) {
		p.noteRate(prov.Name, ip, prov.RateLimit.Rate*ip.aimd.share(now), prov.RateLimit.Rate)
	}
}

// noteRate reports instance's effective rate of limit when it moved by
// more than 1% since the last report or came back to the limit.
func (p *pacer) noteRate(instance string, ip *instancePace, rate, limit float64) {
	p.mu.Lock()
	changed := ip.reported == 0 || rate < ip.reported*0.99 || rate > ip.reported*1.01 || (rate == limit && ip.reported != limit)
	if changed {
		ip.reported = rate
	}
	p.mu.Unlock()
	if changed {
		p.report(instance, rate)
	}
}

// interval is the time between calls at rate calls a second.
func interval(rate float64) time.Duration {
	return time.Duration(float64(time.Second) / rate)
}
