package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/store"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Show run history and operate runs: resume, retry, cancel, resolve, signal, prune",
		Args:  noSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.runsListCommand(), a.runsShowCommand(), a.runsResumeCommand(), a.runsRetryCommand(),
		a.runsCancelCommand(), a.runsResolveCommand(), a.runsSignalCommand(), a.runsPruneCommand())
	return cmd
}

func (a *app) runsListCommand() *cobra.Command {
	var (
		f        projectFlags
		workflow string
		status   string
		trigger  string
		limit    int
		output   string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var want store.Status
			if status != "" {
				s, err := store.ParseRunStatus(status)
				if err != nil {
					return &exitCodeError{code: exitUsage, err: fmt.Errorf("--status: %w", err)}
				}
				want = s
			}
			st, err := host.OpenStore(cmd.Context(), f.storeDSN())
			if err != nil {
				return err
			}
			defer st.Close()
			masker, err := f.masker()
			if err != nil {
				return err
			}
			runs, err := st.ListRuns(cmd.Context(), store.RunFilter{Workflow: workflow, Status: want, TriggerKind: trigger, Limit: limit})
			if err != nil {
				return err
			}
			if output == "json" {
				views := make([]*engine.RunView, 0, len(runs))
				for _, r := range runs {
					v, err := engine.View(cmd.Context(), st, r.ID)
					if err != nil {
						return err
					}
					v.Mask(masker)
					views = append(views, v)
				}
				return writeJSON(a.stdout, views)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN ID\tWORKFLOW\tSTATUS\tTRIGGER\tCREATED\tDURATION\tREASON")
			now := time.Now()
			for _, r := range runs {
				dur := "-"
				if !r.FinishedAt.IsZero() && !r.StartedAt.IsZero() {
					dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.ShownStatus(now), orDash(r.TriggerKind),
					shownTime(r.CreatedAt), dur, orDash(oneLine(masker.String(r.Reason), 60)))
			}
			return tw.Flush()
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&workflow, "workflow", "", "only runs of this workflow")
	cmd.Flags().StringVar(&status, "status", "", "only runs in this status (queued, running, waiting, needs_attention, interrupted, succeeded, failed, skipped, canceled)")
	cmd.Flags().StringVar(&trigger, "trigger", "", "only runs started by this kind of trigger (cron, webhook, event, manual)")
	cmd.Flags().IntVar(&limit, "limit", 50, "most runs to list (0: all)")
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func (a *app) runsShowCommand() *cobra.Command {
	var (
		f      projectFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one run with its steps",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := host.OpenStore(cmd.Context(), f.storeDSN())
			if err != nil {
				return err
			}
			defer st.Close()
			view, err := engine.View(cmd.Context(), st, args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("run %s not found in %s", args[0], f.storeDSN())
			}
			if err != nil {
				return err
			}
			masker, err := f.masker()
			if err != nil {
				return err
			}
			view.Mask(masker)
			if output == "json" {
				return writeJSON(a.stdout, view)
			}
			printRun(a.stdout, view)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func (a *app) runsResumeCommand() *cobra.Command {
	var f projectFlags
	cmd := &cobra.Command{
		Use:   "resume ID",
		Short: "Resume an interrupted run in the foreground from its last completed step",
		Long: "Resume an interrupted run from its last completed step. A step whose success\n" +
			"was recorded is not sent again; an attempt that was in flight when the run\n" +
			"stopped is sent again (with the same idempotency key).",
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.hostOptions(&f)
			if err != nil {
				return err
			}
			in := a.newInterrupt()
			opts.Observer = in.observe(newProgress(a.stdout).observe)
			stopTracing, err := a.startTracing(cmd.Context(), &opts)
			if err != nil {
				return err
			}
			defer stopTracing()
			h, err := a.openHost(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer h.Close()
			prev, err := h.Store.GetRun(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("run %s not found", args[0])
			}
			if err != nil {
				return err
			}
			now := time.Now()
			switch {
			case prev.Status == store.StatusRunning && prev.Owner != "" && !prev.Interrupted(now) && !ownerGone(prev.Owner):
				return fmt.Errorf("run %s is executing in %s (heartbeat %s ago); cancel it or wait until it shows interrupted",
					prev.ID, prev.Owner, now.Sub(prev.HeartbeatAt).Round(time.Second))
			case prev.Status.Retryable():
				return fmt.Errorf("run %s is %s; continue it with: herald runs retry %s", prev.ID, prev.Status, prev.ID)
			}
			// Ctrl-C is acknowledged at once and stops the run after the
			// attempt in flight, as in herald run; a second one quits now.
			in.runID = args[0]
			ctx, stopWatching := in.watch(cmd.Context(), h.Plugins.Close)
			defer stopWatching()
			run, err := h.Engine.Execute(ctx, args[0])
			if run.ID == "" {
				run.ID = args[0]
			}
			if errors.Is(err, engine.ErrInterrupted) || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
				return &exitCodeError{code: exitInterrupted, err: fmt.Errorf("run %s interrupted again; resume it with: herald runs resume %s", run.ID, run.ID)}
			}
			return a.reportRun(run, err)
		},
	}
	f.register(cmd, true)
	return cmd
}

// shownTime formats t for people in the local time zone, with the zone's
// name, so a time read off one machine means the same on another.
func shownTime(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// oneLine returns s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printRun prints a run for people: its status and reason, each step with
// every attempt, and the operators' changes.
func printRun(w io.Writer, v *engine.RunView) {
	fmt.Fprintf(w, "run %s\nworkflow %s\nstatus %s\n", v.RunID, v.Workflow, v.Status)
	if v.Reason != "" {
		fmt.Fprintf(w, "reason %s\n", v.Reason)
	}
	if v.Error != "" && v.Error != v.Reason {
		fmt.Fprintf(w, "error %s\n", v.Error)
	}
	fmt.Fprintf(w, "attempt %d\n", v.Attempt)
	fmt.Fprintf(w, "created %s\n", shownTime(v.CreatedAt))
	if v.StartedAt != nil {
		fmt.Fprintf(w, "started %s\n", shownTime(*v.StartedAt))
	}
	if v.FinishedAt != nil {
		fmt.Fprintf(w, "finished %s\n", shownTime(*v.FinishedAt))
	}
	if v.Owner != "" {
		fmt.Fprintf(w, "owner %s\n", v.Owner)
	}
	fmt.Fprintf(w, "trigger %s\n", v.Trigger)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTEP\tSTATUS\tATTEMPTS\tPROVIDER\tERROR / REASON")
	for _, s := range v.Steps {
		note := string(s.Error)
		if note == "" {
			note = s.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.ID, s.Status, s.Attempts, orDash(s.Provider), orDash(oneLine(note, 100)))
		if s.Progress != nil {
			fmt.Fprintf(tw, "  items\t%d/%d done, %d failed\t\t\t\n", s.Progress.Done, s.Progress.Total, s.Progress.Failed)
		}
		printDeliveries(tw, s)
		for _, h := range s.History {
			what := fmt.Sprintf("  #%d", h.Attempt)
			if h.Item != nil {
				what += fmt.Sprintf(" item %d", *h.Item)
			}
			detail := fmt.Sprintf("%dms", h.DurationMS)
			if len(h.Response) > 0 {
				var resp struct {
					Status int `json:"status"`
				}
				if json.Unmarshal(h.Response, &resp) == nil && resp.Status != 0 {
					detail += fmt.Sprintf(", HTTP %d", resp.Status)
				}
			}
			if h.Error != "" {
				detail += ": " + oneLine(h.Error, 90)
			}
			fmt.Fprintf(tw, "%s\t%s\t\t%s.%s\t%s\n", what, h.Outcome, h.Provider, h.Action, detail)
		}
	}
	_ = tw.Flush()
	if len(v.Operations) > 0 {
		fmt.Fprintln(w, "\noperations")
		for _, op := range v.Operations {
			fmt.Fprintf(w, "  %s  %s by %s: %s\n", shownTime(op.At), op.Action, orDash(op.By), op.Detail)
		}
	}
}

// ownerGone reports whether owner ("host/pid", as engine.DefaultOwner names
// a process) is a process of this machine that no longer exists, so a run it
// held can be resumed without waiting for its heartbeat to go stale.
func ownerGone(owner string) bool {
	name, pidText, ok := strings.Cut(owner, "/")
	if !ok {
		return false
	}
	here, err := os.Hostname()
	if err != nil || name != here {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
