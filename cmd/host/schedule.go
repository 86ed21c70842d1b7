package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
)

func (a *app) scheduleCommand() *cobra.Command {
	var (
		f    projectFlags
		next int
		from string
	)
	cmd := &cobra.Command{
		Use:   "schedule WORKFLOW",
		Short: "Print the next fire times of a workflow's cron triggers, DST transitions marked",
		Long: "Print the next N fire times of each cron trigger of WORKFLOW in the\n" +
			"trigger's timezone, with its UTC offset. A fire that daylight saving time\n" +
			"moves (a wall time inside a spring-forward gap fires once at the next valid\n" +
			"instant) or merges (a wall time that a fall-back overlap repeats fires once)\n" +
			"is marked, and so is every change of UTC offset between two fires.",
		Args: exactArgs("WORKFLOW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			if from != "" {
				t, err := time.Parse(time.RFC3339, from)
				if err != nil {
					return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--from must be RFC 3339, such as 2026-03-28T00:00:00Z: %v", err)}
				}
				start = t
			}
			project, diags, _, err := a.inspect(cmd.Context(), &f)
			if err != nil {
				return err
			}
			if diags.HasErrors() {
				a.printDiagnostics(diags)
				return &exitCodeError{code: exitUsage, err: fmt.Errorf("%s is invalid", f.dir)}
			}
			wf, ok := project.Workflows[args[0]]
			if !ok {
				return &exitCodeError{code: exitUsage, err: fmt.Errorf("workflow %q is not in %s", args[0], f.dir)}
			}
			crons := 0
			for _, t := range wf.Triggers {
				if t.Type != config.TriggerCron {
					continue
				}
				crons++
				fmt.Fprintf(a.stdout, "%s: cron %q in %s (catchup %s)\n", wf.Name, t.Schedule, t.Timezone, t.Catchup)
				if err := scheduler.Format(a.stdout, scheduler.Upcoming(t, start, next), t.Location); err != nil {
					return err
				}
			}
			if crons == 0 {
				return &exitCodeError{code: exitFailure, err: fmt.Errorf("workflow %q has no cron trigger", wf.Name)}
			}
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().IntVar(&next, "next", 10, "how many fire times to print")
	cmd.Flags().StringVar(&from, "from", "", "start from this time (RFC 3339) instead of now")
	return cmd
}
