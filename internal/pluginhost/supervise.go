package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// provider is the host's state for one provider type.
type provider struct {
	h   *Host
	typ string
	// inproc is set for a provider registered in-process.
	inproc *sdk.Server

	// startMu serialises the first launch.
	startMu sync.Mutex

	mu      sync.Mutex
	path    string
	started bool
	closed  bool
	cur     *proc // nil while the plugin is down
	spec    *sdk.Spec
	// attempted is closed, and replaced, after every relaunch attempt.
	attempted chan struct{}
	// lastErr is why the last relaunch attempt failed; nil after a success.
	lastErr  error
	restarts int
	// instances remembers every successful Configure, to replay on a
	// relaunched process; instGen counts changes to it.
	instances map[string]json.RawMessage
	instGen   int
	done      chan struct{}
}

// ensureStarted launches the plugin the first time and starts its
// supervisor. A failed first launch is returned, and tried again by the next
// call.
func (p *provider) ensureStarted(ctx context.Context) error {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	started, closed := p.started, p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if started {
		return nil
	}
	pr, err := p.h.launch(ctx, p)
	if err != nil {
		return err
	}
	p.h.mu.Lock()
	p.mu.Lock()
	closed = p.h.closed || p.closed
	if !closed {
		p.cur, p.spec, p.started = pr, pr.spec, true
		p.h.wg.Add(1)
		go p.supervise(pr)
	}
	p.mu.Unlock()
	p.h.mu.Unlock()
	if closed {
		pr.kill()
		return ErrClosed
	}
	p.h.logger.Debug("plugin launched", "provider", p.typ, "pid", pr.pid, "protocol", pr.protocol)
	return nil
}

// live returns the running process, waiting for a pending relaunch.
func (p *provider) live(ctx context.Context) (*proc, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.cur != nil {
			pr := p.cur
			p.mu.Unlock()
			return pr, nil
		}
		if p.lastErr != nil {
			err := p.lastErr
			p.mu.Unlock()
			return nil, sdk.Retryable(fmt.Errorf("provider %s is down: %w", p.typ, err))
		}
		attempted := p.attempted
		p.mu.Unlock()
		select {
		case <-attempted:
		case <-ctx.Done():
			return nil, sdk.Retryable(fmt.Errorf("provider %s is restarting: %w", p.typ, ctx.Err()))
		}
	}
}

// supervise watches the plugin process and relaunches it whenever it exits,
// until the host closes.
func (p *provider) supervise(pr *proc) {
	defer p.h.wg.Done()
	h := p.h
	backoff := h.minBackoff
	for {
		if !p.waitExit(pr) {
			return
		}
		uptime := time.Since(pr.started)
		pr.kill() // reaps go-plugin's goroutines and the socket directory
		p.mu.Lock()
		if p.cur == pr {
			p.cur = nil
		}
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		if uptime >= h.stableUptime {
			backoff = h.minBackoff
		}
		h.logger.Warn("plugin exited; relaunching", "provider", p.typ, "pid", pr.pid, "uptime", uptime.Round(time.Millisecond), "delay", backoff)
		for {
			select {
			case <-p.done:
				return
			case <-time.After(backoff):
			}
			delay := backoff
			backoff = min(2*backoff, h.maxBackoff)
			next, err := p.relaunch()
			if err == errRelaunchClosed {
				return
			}
			if err == nil {
				pr = next
				h.logger.Info("plugin relaunched", "provider", p.typ, "pid", pr.pid)
				break
			}
			h.logger.Error("plugin relaunch failed", "provider", p.typ, "error", err, "after", delay, "next_delay", backoff)
		}
	}
}

var errRelaunchClosed = errors.New("closed during relaunch")

// relaunch starts a new process, configures the remembered instances on it
// and makes it current.
func (p *provider) relaunch() (*proc, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	next, err := p.h.launch(ctx, p)
	for err == nil {
		p.mu.Lock()
		gen := p.instGen
		instances := make(map[string]json.RawMessage, len(p.instances))
		for k, v := range p.instances {
			instances[k] = v
		}
		p.mu.Unlock()
		if err = p.restore(ctx, next, instances); err != nil {
			break
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			next.kill()
			return nil, errRelaunchClosed
		}
		if p.instGen != gen {
			// A Configure landed meanwhile; replay again.
			p.mu.Unlock()
			continue
		}
		p.cur, p.spec, p.lastErr = next, next.spec, nil
		p.restarts++
		attempted := p.attempted
		p.attempted = make(chan struct{})
		p.mu.Unlock()
		close(attempted)
		return next, nil
	}
	if next != nil {
		next.kill()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errRelaunchClosed
	}
	p.lastErr = err
	close(p.attempted)
	p.attempted = make(chan struct{})
	return nil, err
}

// restore configures instances on a relaunched process. An instance whose
// config the provider now refuses is logged and left out (its calls then
// fail as unknown instance); a transport failure fails the relaunch.
func (p *provider) restore(ctx context.Context, pr *proc, instances map[string]json.RawMessage) error {
	for name, cfg := range instances {
		cctx, cancel := context.WithTimeout(ctx, p.h.startTimeout)
		err := pr.rpc.Configure(cctx, name, cfg)
		cancel()
		if err == nil {
			continue
		}
		if sdk.AsError(err).Class != sdk.ClassPermanent {
			return fmt.Errorf("configure instance %s: %w", name, err)
		}
		p.h.logger.Error("relaunched plugin refused an instance config", "provider", p.typ, "instance", name, "error", err)
	}
	return nil
}

// waitExit blocks until pr exits (true) or the host closes (false).
func (p *provider) waitExit(pr *proc) bool {
	t := time.NewTicker(p.h.pollInterval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return false
		case <-pr.down:
			return true
		case <-t.C:
			if pr.client.Exited() {
				return true
			}
		}
	}
}

// transportFailed is called after an RPC to pr failed in the transport and
// reports whether the process is gone. A gone process is taken out of
// service at once, so the next call waits for the relaunch instead of
// failing on a dead connection.
func (p *provider) transportFailed(pr *proc) bool {
	deadline := time.Now().Add(3 * time.Second)
	for !pr.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	if p.cur == pr {
		p.cur = nil
	}
	p.mu.Unlock()
	pr.markDown()
	return true
}
