// Command herald is the Herald CLI: it validates and runs notification
// workflows, serves the long-running host, and manages provider plugins.
//
// Each command lives in its own file; this one holds the root command, the
// shared logger and the exit-code contract: 0 success, 1 failure, 2 usage or
// validation error. Errors go to stderr as "herald: <message>".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	logger         hclog.Logger
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, logger: newLogger(stderr)}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "herald: %s\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", ue.command)
		return exitUsage
	}
	var ce *exitCodeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitFailure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Herald runs notification workflows against provider plugins",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noSubcommand,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// --version prints what `herald version` prints.
	root.Version = hostVersion()
	root.SetVersionTemplate(versionText())
	// `herald completion bash|zsh|fish|powershell` prints a completion
	// script; cobra's own command, so it completes commands and flags.
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{command: cmd.CommandPath(), err: err}
	})
	root.AddCommand(
		a.versionCommand(),
		a.validateCommand(),
		a.runCommand(),
		a.runsCommand(),
		a.serveCommand(),
		a.migrateCommand(),
		a.scheduleCommand(),
		a.sandboxCommand(),
		a.schemaCommand(),
		a.docsCommand(),
		a.pluginsCommand(),
	)
	return root
}

// usageError is a command line the command cannot run: exit code 2.
type usageError struct {
	command string
	err     error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCodeError makes the CLI exit with code after printing err.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// noSubcommand rejects arguments to a command that only groups others.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return &usageError{command: cmd.CommandPath(), err: errors.New(msg)}
	}
	return nil
}

// exactArgs requires n positional arguments, named in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, ", "), len(args))}
		}
		return nil
	}
}

// newLogger returns the logger of commands that load no project:
// HERALD_LOG_LEVEL (default warn, so one-shot commands stay quiet) and
// HERALD_LOG_FORMAT (text or json), to w.
func newLogger(w io.Writer) hclog.Logger { return newHostLogger(w, hclog.Warn) }
