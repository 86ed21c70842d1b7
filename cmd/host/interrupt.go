package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/heraldhq/herald/internal/engine"
)

// exitInterrupted is the exit code of a foreground run stopped by Ctrl-C
// (SIGINT) or SIGTERM before it ended, as shells report a command killed by
// SIGINT: 128 + 2.
const exitInterrupted = 130

// interrupt watches SIGINT and SIGTERM while `herald run` or `herald runs
// resume` executes a run in the foreground. The first signal is acknowledged
// on stderr at once and cancels the run's context: the engine lets the
// attempt in flight finish and records it, then stops before the next one.
// A second signal gives up waiting: it stops the plugins, prints how to
// resume the run and exits with exitInterrupted.
type interrupt struct {
	a     *app
	runID string
	mu    sync.Mutex
	// kill stops what must not outlive the process (plugin processes run
	// in their own process group, out of the terminal's reach).
	kill func() error
}

func (a *app) newInterrupt() *interrupt { return &interrupt{a: a} }

// watch returns the context to execute the run with, detached from the root
// command's own signal handling, and a function that stops watching. kill
// is called on the second signal, before the process exits.
func (in *interrupt) watch(parent context.Context, kill func() error) (context.Context, func()) {
	a := in.a
	in.kill = kill
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		id := in.id()
		what := "the run"
		if id != "" {
			what = "run " + id
		}
		fmt.Fprintf(a.stderr, "herald: interrupted: stopping %s after the attempt in flight; press Ctrl-C again to quit now\n", what)
		cancel()
		select {
		case <-sigs:
		case <-done:
			return
		}
		stopped := make(chan struct{})
		go func() { _ = in.kill(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(time.Second):
		}
		if id = in.id(); id != "" {
			fmt.Fprintf(a.stderr, "herald: run %s stopped; continue it with: herald runs resume %s\n", id, id)
		} else {
			fmt.Fprintln(a.stderr, "herald: stopped")
		}
		os.Exit(exitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// observe records the id of the run as soon as it starts; chain it before
// the progress observer.
func (in *interrupt) observe(next engine.Observer) engine.Observer {
	return func(ev engine.Event) {
		if ev.Type == engine.RunStarted {
			in.mu.Lock()
			in.runID = ev.RunID
			in.mu.Unlock()
		}
		if next != nil {
			next(ev)
		}
	}
}

func (in *interrupt) id() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.runID
}
