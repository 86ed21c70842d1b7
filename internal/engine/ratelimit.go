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
	now    func() time.Time
	// report is told an instance's effective rate when AIMD changes it.
	report func(instance string, rate float64)

	mu         sync.Mutex
	instances  map[string]*instancePace
	recipients recipientKeys
}

// instancePace is the state of one instance's limit.
type instancePace struct {
	queue fairQueue
	aimd  aimd
	// reported is the last effective rate given to report.
	reported float64
}

func newPacer(budget RateLimiter, report func(string, float64)) *pacer {
	if budget == nil {
		budget = newMemoryBudget()
	}
	if report == nil {
		report = func(string, float64) {}
	}
	return &pacer{budget: budget, now: time.Now, report: report, instances: map[string]*instancePace{}}
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
func (p *pacer) dispatch(instance string, ip *instancePace, rl *config.RateLimit) {
	for ip.queue.waiting() {
		rate := rl.Rate * ip.aimd.share(p.now())
		p.noteRate(instance, ip, rate)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d, err := p.budget.Reserve(ctx, instance, interval(rate), rl.Burst)
		cancel()
		if err == nil {
			time.Sleep(d)
		}
		if !ip.queue.grant(err) {
			return
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// limited lowers instance's rate after a rate_limited answer.
func (p *pacer) limited(prov *config.Provider) {
	if prov == nil || prov.RateLimit == nil || prov.RateLimit.Rate <= 0 {
		return
	}
	ip := p.instance(prov.Name)
	now := p.now()
	if ip.aimd.decrease(now) {
		p.noteRate(prov.Name, ip, prov.RateLimit.Rate*ip.aimd.share(now))
	}
}

// noteRate reports instance's effective rate when it moved by more than
// 1% since the last report.
func (p *pacer) noteRate(instance string, ip *instancePace, rate float64) {
	p.mu.Lock()
	changed := ip.reported == 0 || rate < ip.reported*0.99 || rate > ip.reported*1.01
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
