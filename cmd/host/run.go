package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

func (a *app) runCommand() *cobra.Command {
	var (
		f      projectFlags
		input  string
		dryRun bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "run WORKFLOW",
		Short: "Run one workflow once, in the foreground, as a manual trigger",
		Long: "Run one workflow once as a manual trigger, showing step progress. --input\n" +
			"becomes trigger.body (inline JSON, @file, or @- for stdin). With --dry-run\n" +
			"every provider renders the exact requests it would send and nothing is sent.\n" +
			"Exit codes: 0 succeeded (or skipped by when), 1 failed, 2 usage or\n" +
			"validation error, 130 interrupted: Ctrl-C lets the attempt in flight\n" +
			"finish, then stops and prints how to resume; a second Ctrl-C quits at once.",
		Args: exactArgs("WORKFLOW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be text or json, not %q", output)}
			}
			body, err := parseInput(input)
			if err != nil {
				return &usageError{command: cmd.CommandPath(), err: err}
			}
			opts, err := a.hostOptions(&f)
			if err != nil {
				return err
			}
			opts.DryRun = dryRun
			stopTracing, err := a.startTracing(cmd.Context(), &opts)
			if err != nil {
				return err
			}
			defer stopTracing()
			progressOut := a.stdout
			if output == "json" {
				progressOut = a.stderr
			}
			in := a.newInterrupt()
			opts.Observer = in.observe(newProgress(progressOut).observe)
			h, err := a.openHost(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer h.Close()
			if _, ok := h.Project.Workflows[args[0]]; !ok {
				return &exitCodeError{code: exitUsage, err: fmt.Errorf("workflow %q is not in %s (it has %s)", args[0], f.dir, strings.Join(h.Project.WorkflowNames(), ", "))}
			}
			ctx, stopWatching := in.watch(cmd.Context(), h.Plugins.Close)
			defer stopWatching()
			run, err := h.Engine.Run(ctx, args[0], engine.Trigger{Kind: engine.KindManual, Body: body})
			// The interrupt may also land in a store call between two checks
			// of the engine's: that is the same interruption.
			if errors.Is(err, engine.ErrInterrupted) || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
				if run.ID == "" {
					return &exitCodeError{code: exitInterrupted, err: errors.New("interrupted before the run started")}
				}
				return &exitCodeError{code: exitInterrupted, err: fmt.Errorf("run %s interrupted; continue it with: herald runs resume %s", run.ID, run.ID)}
			}
			if err != nil {
				return err
			}
			// An interrupt that came while the last step was in flight
			// leaves a run that ended: report it as it ended.
			view, err := engine.View(context.WithoutCancel(ctx), h.Store, run.ID)
			if err != nil {
				return err
			}
			if output == "json" {
				if err := writeJSON(a.stdout, view); err != nil {
					return err
				}
			} else if dryRun {
				printDryRun(a.stdout, view)
			}
			if run.Status == store.StatusFailed {
				return &exitCodeError{code: exitFailure, err: fmt.Errorf("run %s failed: %s", run.ID, run.Error)}
			}
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&input, "input", "", "trigger.body as JSON, @file or @-")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "render the requests each provider would send; send nothing")
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dryRunOutput is what a provider returns for a dry-run call that rendered
// requests.
type dryRunOutput struct {
	DryRun   bool `json:"dry_run"`
	Requests []struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"requests"`
}

// printDryRun prints the requests each step rendered.
func printDryRun(w io.Writer, view *engine.RunView) {
	fmt.Fprintln(w, "\nDry run: these requests would be sent (nothing was sent):")
	for _, s := range view.Steps {
		var outs []json.RawMessage
		if len(s.Output) > 0 && s.Output[0] == '[' {
			_ = json.Unmarshal(s.Output, &outs)
		} else {
			outs = []json.RawMessage{s.Output}
		}
		for i, raw := range outs {
			var d dryRunOutput
			if json.Unmarshal(raw, &d) != nil || !d.DryRun {
				continue
			}
			label := s.ID
			if len(outs) > 1 || (len(s.Output) > 0 && s.Output[0] == '[') {
				label = fmt.Sprintf("%s[%d]", s.ID, i)
			}
			fmt.Fprintf(w, "\n# step %s (%s)\n", label, s.Provider)
			for _, r := range d.Requests {
				fmt.Fprintf(w, "%s %s\n", r.Method, r.URL)
				keys := make([]string, 0, len(r.Headers))
				for k := range r.Headers {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(w, "%s: %s\n", k, r.Headers[k])
				}
				if len(r.Body) > 0 && string(r.Body) != "null" {
					var buf bytes.Buffer
					if json.Indent(&buf, r.Body, "", "  ") == nil {
						fmt.Fprintf(w, "\n%s\n", buf.String())
					}
				}
				fmt.Fprintln(w)
			}
		}
		if s.Status == "failed" {
			fmt.Fprintf(w, "\n# step %s failed: %s\n", s.ID, s.Error)
		}
	}
}
