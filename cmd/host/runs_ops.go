package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// cliBy names the CLI in a run's operation log.
const cliBy = "cli"

// serverFlag is --server: the URL of a `herald serve` whose HTTP API an
// operation goes through instead of the store.
type serverFlag struct{ url string }

func (s *serverFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.url, "server", "", "send the operation to this herald serve (its HTTP API, with $HERALD_API_TOKEN) instead of the store (default $HERALD_API_URL)")
}

// target returns the server URL, or "" to work on the store directly.
func (s *serverFlag) target() string {
	if s.url != "" {
		return s.url
	}
	return os.Getenv("HERALD_API_URL")
}

// operate sends operation op (such as "retry" or "signals/ack") on run id to
// the server's API and prints the run's status after it.
func (s *serverFlag) operate(ctx context.Context, w io.Writer, id, op string, body any) error {
	status, err := s.post(ctx, "/api/v1/runs/"+url.PathEscape(id)+"/"+op, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "run %s: %s\n", id, status)
	return nil
}

// post sends an operation to the server's API and returns the run's status
// after it, or the API's error.
func (s *serverFlag) post(ctx context.Context, path string, body any) (string, error) {
	var rdr io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		rdr = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.target(), "/")+path, rdr)
	if err != nil {
		return "", &exitCodeError{code: exitUsage, err: fmt.Errorf("--server: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	if token := os.Getenv("HERALD_API_TOKEN"); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	if resp.StatusCode != http.StatusAccepted {
		if out.Error == "" {
			out.Error = resp.Status
		}
		return "", fmt.Errorf("%s: %s", s.target(), out.Error)
	}
	return out.Status, nil
}

// storeEngine opens the store and an engine on it that can operate runs
// but never calls a plugin (cancel and signal need none).
func (a *app) storeEngine(ctx context.Context, f *projectFlags) (*engine.Engine, store.Store, error) {
	st, err := host.OpenStore(ctx, f.storeDSN())
	if err != nil {
		return nil, nil, err
	}
	e, err := engine.New(engine.Options{
		Project: &config.Project{},
		Store:   st,
		Client: func(context.Context, string) (sdk.Client, error) {
			return nil, errors.New("this command calls no provider")
		},
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return e, st, nil
}

// operationError turns the errors of an operation into what the CLI says.
func operationError(id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("run %s not found", id)
	case errors.Is(err, store.ErrInvalid):
		return &exitCodeError{code: exitUsage, err: err}
	}
	return err
}

// errNotResumed ends an operation of executeForeground that left the run
// where it was (a signal kept for a step that waits later): nothing to
// execute here.
var errNotResumed = errors.New("the run was not resumed")

// executeForeground executes a run the operator moved back to queued (retry,
// resolve) in the foreground, with progress, as `runs resume` does.
func (a *app) executeForeground(cmd *cobra.Command, f *projectFlags, id string, op func(context.Context, *engine.Engine) error) error {
	opts, err := a.hostOptions(f)
	if err != nil {
		return err
	}
	opts.Observer = newProgress(a.stdout).observe
	h, err := a.openHost(cmd.Context(), opts)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := op(cmd.Context(), h.Engine); errors.Is(err, errNotResumed) {
		return nil
	} else if err != nil {
		return operationError(id, err)
	}
	run, err := h.Engine.Execute(cmd.Context(), id)
	return a.reportRun(run, err)
}

// reportRun prints how a foreground execution ended and picks the exit code.
func (a *app) reportRun(run store.Run, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("run %s not found", run.ID)
	case errors.Is(err, engine.ErrInterrupted):
		return fmt.Errorf("run %s interrupted again; resume it with: herald runs resume %s", run.ID, run.ID)
	case err != nil:
		return err
	case run.Status == store.StatusFailed:
		return &exitCodeError{code: exitFailure, err: fmt.Errorf("run %s failed: %s", run.ID, run.Reason)}
	}
	fmt.Fprintf(a.stdout, "run %s: %s\n", run.ID, run.Status)
	switch run.Status {
	case store.StatusCanceled:
		return &exitCodeError{code: exitFailure, err: fmt.Errorf("run %s %s", run.ID, run.Reason)}
	case store.StatusNeedsAttention:
		// Not done: an in-doubt send waits for runs resolve, which the
		// reason spells out.
		return &exitCodeError{code: exitFailure, err: fmt.Errorf("run %s needs attention: %s", run.ID, run.Reason)}
	}
	return nil
}

func (a *app) runsRetryCommand() *cobra.Command {
	var (
		f    projectFlags
		srv  serverFlag
		from string
	)
	cmd := &cobra.Command{
		Use:   "retry ID",
		Short: "Continue a failed, canceled or needs_attention run as the same run",
		Long: "Continue a failed, canceled or needs_attention run as the same run (its\n" +
			"attempt + 1). Without --from it continues from the first step that did not\n" +
			"succeed and sends again only what did not succeed; --from STEP runs STEP and\n" +
			"every later step again in full. Earlier steps keep their recorded outputs.\n" +
			"Without --server the run executes here, in the foreground; with --server (or\n" +
			"$HERALD_API_URL) that herald serve executes it.",
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if srv.target() != "" {
				return srv.operate(cmd.Context(), a.stdout, id, "retry", map[string]string{"from_step": from})
			}
			return a.executeForeground(cmd, &f, id, func(ctx context.Context, e *engine.Engine) error {
				_, err := e.Retry(ctx, id, from, cliBy)
				return err
			})
		},
	}
	f.register(cmd, true)
	srv.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "step to continue from (default: the first step that did not succeed)")
	return cmd
}

func (a *app) runsCancelCommand() *cobra.Command {
	var (
		f   projectFlags
		srv serverFlag
	)
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a queued, running or waiting run",
		Long: "Stop a queued, running, waiting or needs_attention run. A run no process\n" +
			"executes (queued, waiting, or interrupted) is canceled at once. A run a live\n" +
			"process executes is asked to stop: with --server (or $HERALD_API_URL) that\n" +
			"herald serve cancels its attempt in flight right away; without it the request\n" +
			"goes through the store and the owning process stops the run at its next\n" +
			"heartbeat (every $HERALD_HEARTBEAT_INTERVAL, default 5s).",
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if srv.target() != "" {
				return srv.operate(cmd.Context(), a.stdout, id, "cancel", nil)
			}
			e, st, err := a.storeEngine(cmd.Context(), &f)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := e.Cancel(cmd.Context(), id, cliBy, time.Second)
			if err != nil {
				return operationError(id, err)
			}
			if res == engine.CancelRequested {
				run, _ := st.GetRun(cmd.Context(), id)
				fmt.Fprintf(a.stdout, "run %s: cancel requested; %s stops it at its next heartbeat\n", id, run.Owner)
				return nil
			}
			fmt.Fprintf(a.stdout, "run %s: canceled\n", id)
			return nil
		},
	}
	f.register(cmd, true)
	srv.register(cmd)
	return cmd
}

func (a *app) runsResolveCommand() *cobra.Command {
	var (
		f    projectFlags
		srv  serverFlag
		step string
		item int
		as   string
	)
	cmd := &cobra.Command{
		Use:   "resolve ID --step STEP [--item N] --as sent|unsent",
		Short: "Settle the in-doubt attempt of a run that needs attention",
		Long: "Settle the in-doubt send of a needs_attention run by hand: --as sent records\n" +
			"that it went out (nothing is sent again), --as unsent sends it again. The run\n" +
			"then continues: here in the foreground, or with --server in that herald serve.",
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if step == "" || (as != "sent" && as != "unsent") {
				return &usageError{command: cmd.CommandPath(), err: errors.New("--step and --as sent|unsent are required")}
			}
			if srv.target() != "" {
				body := map[string]any{"step": step, "as": as}
				if item != store.NoItem {
					body["item"] = item
				}
				return srv.operate(cmd.Context(), a.stdout, id, "resolve", body)
			}
			return a.executeForeground(cmd, &f, id, func(ctx context.Context, e *engine.Engine) error {
				_, err := e.Resolve(ctx, id, step, item, as == "sent", cliBy)
				return err
			})
		},
	}
	f.register(cmd, true)
	srv.register(cmd)
	cmd.Flags().StringVar(&step, "step", "", "the step whose send is in doubt")
	cmd.Flags().IntVar(&item, "item", store.NoItem, "the for_each item whose send is in doubt")
	cmd.Flags().StringVar(&as, "as", "", "sent (it went out) or unsent (send it again)")
	return cmd
}

func (a *app) runsSignalCommand() *cobra.Command {
	var (
		f    projectFlags
		srv  serverFlag
		data string
	)
	cmd := &cobra.Command{
		Use:   "signal ID NAME [--data JSON]",
		Short: "Deliver a signal to a run waiting on wait_for { signal = NAME }",
		Args:  exactArgs("ID", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, name := args[0], args[1]
			raw := json.RawMessage(data)
			if data != "" && !json.Valid(raw) {
				return &usageError{command: cmd.CommandPath(), err: errors.New("--data is not valid JSON")}
			}
			if srv.target() != "" {
				var body any
				if data != "" {
					body = raw
				}
				return srv.operate(cmd.Context(), a.stdout, id, "signals/"+url.PathEscape(name), body)
			}
			// Without a server the run continues here, in the foreground,
			// as after runs retry.
			return a.executeForeground(cmd, &f, id, func(ctx context.Context, e *engine.Engine) error {
				key, _, err := e.Signal(ctx, id, name, raw, cliBy)
				if err != nil {
					return err
				}
				if key.StepID == "" {
					// Kept for a step that waits later; the run goes on
					// where it is.
					fmt.Fprintf(a.stdout, "run %s: signal %s kept until a step waits for it\n", id, name)
					return errNotResumed
				}
				fmt.Fprintf(a.stdout, "run %s: signal %s delivered\n", id, name)
				return nil
			})
		},
	}
	f.register(cmd, true)
	srv.register(cmd)
	cmd.Flags().StringVar(&data, "data", "", "the signal's data, JSON")
	return cmd
}

func (a *app) runsPruneCommand() *cobra.Command {
	var (
		f         projectFlags
		olderThan string
	)
	cmd := &cobra.Command{
		Use:   "prune [--older-than D]",
		Short: "Delete finished runs older than D (default: the retention)",
		Long: "Delete the finished runs (succeeded, failed, skipped, canceled) created and\n" +
			"finished more than D ago (30d, 720h; default $HERALD_RETENTION, else 30d),\n" +
			"with their steps, attempts, operations and idempotency keys, in small batches,\n" +
			"then give the space back (SQLite: incremental vacuum and a WAL checkpoint).",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			age, err := retention.FromEnv()
			if olderThan != "" {
				age, err = retention.Parse(olderThan)
			}
			if err != nil {
				return &exitCodeError{code: exitUsage, err: err}
			}
			if age <= 0 {
				return &exitCodeError{code: exitUsage, err: errors.New("the retention is 0 (keep every run): pass --older-than D to prune")}
			}
			st, err := host.OpenStore(cmd.Context(), f.storeDSN())
			if err != nil {
				return err
			}
			defer st.Close()
			var before, after int64
			m, sized := st.(store.Maintainer)
			if sized {
				before, _ = m.Size(cmd.Context())
			}
			p := &retention.Pruner{Store: st}
			n, err := p.Prune(cmd.Context(), age)
			if err != nil {
				return fmt.Errorf("pruned %d runs, then: %w", n, err)
			}
			fmt.Fprintf(a.stdout, "pruned %d runs older than %s", n, age)
			if sized {
				after, _ = m.Size(cmd.Context())
				fmt.Fprintf(a.stdout, "; store %s → %s", byteCount(before), byteCount(after))
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&olderThan, "older-than", "", "age of the runs to delete, such as 30d or 720h (default $HERALD_RETENTION, else 30d)")
	return cmd
}

// byteCount renders n bytes for people.
func byteCount(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
