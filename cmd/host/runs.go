package main

import (
	"errors"
	"fmt"
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
		Short: "Show run history and resume interrupted runs",
		Args:  noSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.runsListCommand(), a.runsShowCommand(), a.runsResumeCommand())
	return cmd
}

func (a *app) runsListCommand() *cobra.Command {
	var (
		f        projectFlags
		workflow string
		status   string
		limit    int
		output   string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := host.OpenStore(cmd.Context(), f.storeDSN())
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(cmd.Context(), store.RunFilter{Workflow: workflow, Status: store.Status(status), Limit: limit})
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
					views = append(views, v)
				}
				return writeJSON(a.stdout, views)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN ID\tWORKFLOW\tSTATUS\tTRIGGER\tCREATED\tDURATION")
			for _, r := range runs {
				trig, _ := engine.DecodeTrigger(r.Trigger)
				dur := "-"
				if !r.FinishedAt.IsZero() && !r.StartedAt.IsZero() {
					dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.Status, trig.Kind, r.CreatedAt.Local().Format(time.DateTime), dur)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&workflow, "workflow", "", "only runs of this workflow")
	cmd.Flags().StringVar(&status, "status", "", "only runs in this status (queued, running, succeeded, failed, skipped)")
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
			if output == "json" {
				return writeJSON(a.stdout, view)
			}
			fmt.Fprintf(a.stdout, "run %s\nworkflow %s\nstatus %s\n", view.RunID, view.Workflow, view.Status)
			if view.Error != "" {
				fmt.Fprintf(a.stdout, "error %s\n", view.Error)
			}
			fmt.Fprintf(a.stdout, "trigger %s\n", view.Trigger)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nSTEP\tSTATUS\tATTEMPTS\tPROVIDER\tERROR")
			for _, s := range view.Steps {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.ID, s.Status, s.Attempts, orDash(s.Provider), orDash(string(s.Error)))
			}
			return tw.Flush()
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
			opts.Observer = newProgress(a.stdout).observe
			h, err := a.openHost(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer h.Close()
			run, err := h.Engine.Execute(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("run %s not found", args[0])
			}
			if errors.Is(err, engine.ErrInterrupted) {
				return fmt.Errorf("run %s interrupted again; resume it with: herald runs resume %s", run.ID, run.ID)
			}
			if err != nil {
				return err
			}
			if run.Status == store.StatusFailed {
				return &exitCodeError{code: exitFailure, err: fmt.Errorf("run %s failed: %s", run.ID, run.Error)}
			}
			fmt.Fprintf(a.stdout, "run %s: %s\n", run.ID, run.Status)
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}
