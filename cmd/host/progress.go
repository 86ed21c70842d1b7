package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/heraldhq/herald/internal/engine"
)

// progress prints run and step transitions as they happen: plain lines, or
// on a terminal the same lines with marks and a live counter of for_each
// elements.
type progress struct {
	w        io.Writer
	terminal bool
	// color is terminal unless NO_COLOR is set.
	color bool

	mu    sync.Mutex
	items map[string]*itemCount
	live  bool
}

type itemCount struct {
	total, done, failed int
	// started is when the step started and printed when a plain progress
	// line was last printed, both on the engine's clock.
	started, printed time.Time
}

// plainEvery is how often a for_each step's progress is printed as a line
// when the output is not a terminal.
const plainEvery = 10 * time.Second

// eta estimates how long the rest of the items take at the pace so far
// (a paced for_each runs at its instance's rate limit), or 0 before the
// first item is done.
func (c *itemCount) eta(now time.Time) time.Duration {
	if c.done == 0 || c.done >= c.total || c.started.IsZero() {
		return 0
	}
	elapsed := now.Sub(c.started)
	return time.Duration(float64(elapsed) / float64(c.done) * float64(c.total-c.done))
}

// status is the counter's text: done, failed and the ETA.
func (c *itemCount) status(now time.Time) string {
	s := fmt.Sprintf("%d/%d items done, %d failed", c.done, c.total, c.failed)
	if eta := c.eta(now); eta > 0 {
		s += ", eta " + eta.Round(time.Second).String()
	}
	return s
}

func newProgress(w io.Writer) *progress {
	terminal := false
	if f, ok := w.(*os.File); ok {
		terminal = isatty.IsTerminal(f.Fd())
	}
	return &progress{w: w, terminal: terminal, color: terminal && colorAllowed(), items: map[string]*itemCount{}}
}

// colorAllowed honours NO_COLOR (https://no-color.org): when it is set to
// anything but the empty string, nothing is printed in colour.
func colorAllowed() bool { return os.Getenv("NO_COLOR") == "" }

func (p *progress) mark(ok bool) string {
	switch {
	case !p.terminal:
		return ""
	case !p.color && ok:
		return "✓ "
	case !p.color:
		return "✗ "
	case ok:
		return "\033[32m✓\033[0m "
	}
	return "\033[31m✗\033[0m "
}

// line prints a line, first clearing a live counter.
func (p *progress) line(format string, args ...any) {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// observe is the engine.Observer.
func (p *progress) observe(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Type {
	case engine.RunStarted:
		p.line("run %s: workflow %s started (attempt %d)", ev.RunID, ev.Workflow, ev.Attempt)
	case engine.StepStarted:
		if ev.Items > 0 {
			p.items[ev.StepID] = &itemCount{total: ev.Items, started: ev.Time, printed: ev.Time}
			p.line("step %s: %s.%s for %d items", ev.StepID, ev.Provider, ev.Action, ev.Items)
			return
		}
		p.line("step %s: %s.%s", ev.StepID, ev.Provider, ev.Action)
	case engine.AttemptFailed:
		what := "attempt"
		if ev.Item >= 0 {
			what = fmt.Sprintf("item %d attempt", ev.Item)
		}
		retry := "no retry"
		if ev.RetryIn > 0 {
			retry = "retrying in " + ev.RetryIn.Round(time.Millisecond).String()
		}
		p.line("  %s %d on %s failed (%s): %s; %s", what, ev.Attempt, ev.Provider, ev.Class, ev.Error, retry)
	case engine.ItemFinished:
		c := p.items[ev.StepID]
		if c == nil {
			return
		}
		c.done++
		if ev.Status == "failed" {
			c.failed++
		}
		if p.terminal {
			fmt.Fprintf(p.w, "\r\033[K  %s", c.status(ev.Time))
			p.live = true
		} else if ev.Time.Sub(c.printed) >= plainEvery && c.done < c.total {
			c.printed = ev.Time
			p.line("  step %s: %s", ev.StepID, c.status(ev.Time))
		}
	case engine.StepFinished:
		ok := ev.Status != "failed"
		detail := fmt.Sprintf("%d attempt(s)", ev.Attempts)
		if ev.Provider != "" {
			detail += ", provider " + ev.Provider
		}
		if c := p.items[ev.StepID]; c != nil {
			detail = fmt.Sprintf("%d/%d items failed, ", c.failed, c.total) + detail
		}
		msg := ""
		if ev.Error != "" {
			msg = ": " + ev.Error
		}
		p.line("%sstep %s: %s in %s (%s)%s", p.mark(ok), ev.StepID, ev.Status, ev.Duration.Round(time.Millisecond), detail, msg)
	case engine.RunFinished:
		msg := ""
		if ev.Error != "" {
			msg = ": " + ev.Error
		}
		p.line("%srun %s: %s in %s%s", p.mark(ev.Status != "failed"), ev.RunID, ev.Status, ev.Duration.Round(time.Millisecond), msg)
	}
}
