// Package load drives the whole-system benchmarks: a closed loop of webhook
// clients against one or more targets (Herald replicas, or the floor
// program), with latency measured from sending the webhook to the provider
// sandbox receiving the message, which is what a user waits for.
//
// Every webhook body is {"msg": "<id>"} and the system under test must send
// that id as the message body, so the sandbox's record ties each delivery
// to its webhook.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// Options configure Run.
type Options struct {
	// Targets are the webhook URLs; client i sends to Targets[i%len].
	Targets []string
	// Sandbox is where the messages arrive; Run resets it first.
	Sandbox *sandboxproviders.Sandbox
	// Clients is how many webhooks are in flight at once.
	Clients int
	// Rate, when positive, paces the clients to that many webhooks a second
	// in all (an open loop below saturation); zero sends as fast as the
	// system answers (a closed loop, which saturates an asynchronous system
	// and so measures its queue as much as its speed).
	Rate float64
	// Warmup runs unmeasured before the Duration that is measured.
	Warmup, Duration time.Duration
	// Drain bounds how long Run waits after the load for the webhooks it
	// sent to be delivered; 30 s when zero.
	Drain time.Duration
	// AwaitDelivery, when set, makes each client wait after a webhook is
	// answered until the sandbox has received its message (as reported to
	// AwaitDelivery.Notify) before it sends the next: a sequential client
	// then measures one message at a time end to end even against a system
	// that answers before it sends.
	AwaitDelivery *Deliveries
	// Window, when set, is called as the measured window begins (true)
	// and as it ends (false), so a caller can sample the processes under
	// test over exactly the window; Run returns after both calls.
	Window func(begin bool)
}

// Result is one system's figures.
type Result struct {
	Name string
	// Sent counts the webhooks accepted in the measured window, Delivered
	// those of them the sandbox received (by the end of the drain), and
	// Failures the webhooks refused or failed over the whole run.
	Sent, Delivered, Failures int
	// Arrived counts the messages the sandbox received within the window,
	// whenever their webhooks were sent; Throughput is Arrived a second.
	Arrived int
	// Answered200 counts the webhooks of the window answered 200 (a
	// synchronous answer, after the run) rather than 202.
	Answered200 int
	// AnswerP50 and AnswerP99 are the latencies of the answers to the
	// webhooks sent in the window, from sending to the end of the answer:
	// what a sender waiting for a synchronous answer sees.
	AnswerP50, AnswerP99 time.Duration
	// Throughput is the messages the sandbox received per second of the
	// window, whenever their webhooks were sent: what the system sustains.
	Throughput float64
	// P50 and P99 are the latencies of the delivered webhooks sent in the
	// window, from sending the webhook to the sandbox receiving the
	// message; under overload they include the time spent queued.
	P50, P99 time.Duration
}

// Run measures one system.
func Run(ctx context.Context, name string, opts Options) (Result, error) {
	if len(opts.Targets) == 0 || opts.Clients <= 0 {
		return Result{}, fmt.Errorf("%s: no targets or no clients", name)
	}
	if opts.Drain <= 0 {
		opts.Drain = 30 * time.Second
	}
	opts.Sandbox.Reset()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq, failures, answered200 atomic.Int64
	var answersMu sync.Mutex
	var answers []time.Duration
	var sent sync.Map // id → send time
	measureFrom := time.Now().Add(opts.Warmup)
	end := measureFrom.Add(opts.Duration)
	loadCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var window sync.WaitGroup
	if opts.Window != nil {
		window.Go(func() {
			time.Sleep(time.Until(measureFrom))
			opts.Window(true)
			time.Sleep(time.Until(end))
			opts.Window(false)
		})
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: opts.Clients * 2}}
	var tokens chan struct{}
	if opts.Rate > 0 {
		tokens = make(chan struct{})
		go pace(loadCtx, tokens, opts.Rate)
	}
	var wg sync.WaitGroup
	for i := range opts.Clients {
		target := opts.Targets[i%len(opts.Targets)]
		wg.Go(func() {
			for loadCtx.Err() == nil {
				if tokens != nil {
					select {
					case <-tokens:
					case <-loadCtx.Done():
						return
					}
				}
				id := tag + "-" + strconv.FormatInt(seq.Add(1), 10)
				var delivered <-chan struct{}
				if opts.AwaitDelivery != nil {
					delivered = opts.AwaitDelivery.expect(id)
				}
				now := time.Now()
				body, _ := json.Marshal(map[string]string{"msg": id})
				resp, err := client.Post(target, "application/json", bytes.NewReader(body))
				if err != nil {
					failures.Add(1)
					opts.AwaitDelivery.forget(id)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
					failures.Add(1)
					opts.AwaitDelivery.forget(id)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				sent.Store(id, now)
				if delivered != nil {
					select {
					case <-delivered:
					case <-time.After(opts.Drain):
					case <-ctx.Done():
					}
					opts.AwaitDelivery.forget(id)
				}
				if !now.Before(measureFrom) {
					took := time.Since(now)
					answersMu.Lock()
					answers = append(answers, took)
					answersMu.Unlock()
					if resp.StatusCode == http.StatusOK {
						answered200.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	window.Wait()
	// The clients are done: close their keep-alive connections, or the
	// system under test keeps them idle (herald for 2 minutes) and the next
	// windows measure 32 more connections each (1.1 MiB of herald's RSS
	// per closed-loop window, bench/README.md, session 12).
	client.CloseIdleConnections()
	res := Result{Name: name, Failures: int(failures.Load()), Answered200: int(answered200.Load())}
	sent.Range(func(_, v any) bool {
		if t := v.(time.Time); !t.Before(measureFrom) {
			res.Sent++
		}
		return true
	})
	// Wait for the webhooks of the window to be delivered, within Drain.
	var lat []time.Duration
	drainEnd := time.Now().Add(opts.Drain)
	for {
		lat, res.Delivered = lat[:0], 0
		arrived := 0
		for _, r := range opts.Sandbox.Requests("chatapi") {
			var b struct {
				Body string `json:"body"`
			}
			if json.Unmarshal(r.Body, &b) != nil || !strings.HasPrefix(b.Body, tag) {
				continue
			}
			if !r.Time.Before(measureFrom) && !r.Time.After(end) {
				arrived++
			}
			v, ok := sent.Load(b.Body)
			if !ok {
				continue
			}
			if t0 := v.(time.Time); !t0.Before(measureFrom) {
				res.Delivered++
				lat = append(lat, r.Time.Sub(t0))
			}
		}
		res.Arrived = arrived
		res.Throughput = float64(arrived) / opts.Duration.Seconds()
		if res.Delivered >= res.Sent || time.Now().After(drainEnd) {
			break
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	if len(lat) == 0 {
		return res, fmt.Errorf("%s: nothing was delivered (%d failures)", name, res.Failures)
	}
	res.P50, res.P99 = percentiles(lat)
	if len(answers) > 0 {
		res.AnswerP50, res.AnswerP99 = percentiles(answers)
	}
	return res, nil
}

// percentiles sorts lat and returns its 50th and 99th percentiles.
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// Deliveries tells waiting clients that their messages arrived; the
// sandbox's OnSent hook calls Notify with each message body.
type Deliveries struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

// Notify reports that the message with body msg reached the provider.
func (d *Deliveries) Notify(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.waiting[msg]; ok {
		close(ch)
		delete(d.waiting, msg)
	}
}

// expect registers a wait for msg, before its webhook is sent.
func (d *Deliveries) expect(msg string) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting == nil {
		d.waiting = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	d.waiting[msg] = ch
	return ch
}

// forget drops the wait for msg, if any; a nil d does nothing.
func (d *Deliveries) forget(msg string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.waiting, msg)
}

// pace hands out rate tokens a second on tokens until ctx ends; a token no
// client is free to take is dropped, so a slow system sees fewer webhooks
// rather than a burst.
func pace(ctx context.Context, tokens chan<- struct{}, rate float64) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case tokens <- struct{}{}:
			default:
			}
		}
	}
}

// Print writes results as a table, each throughput also as a share of the
// first result's (the floor, when it is first).
func Print(w io.Writer, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "system\tsent\tdelivered\trefused\tmsgs/s\tp50\tp99\tof %s\t\n", results[0].Name)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%.0f%%\t\n", r.Name, r.Sent, r.Delivered, r.Failures, r.Throughput,
			r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), 100*r.Throughput/results[0].Throughput)
	}
	return tw.Flush()
}
