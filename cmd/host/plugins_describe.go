package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/sdk"
)

func (a *app) pluginsDescribeCommand() *cobra.Command {
	dir := defaultDir
	format := "text"
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show one provider's configuration, actions and events",
		Long: "Show one provider's schema: its configuration (sensitive fields marked), each\n" +
			"action with its input and output, and the events it emits. --format markdown\n" +
			"prints the provider's reference documentation; --format json the schema as data.",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var render func(io.Writer, *sdk.Spec) error
			switch format {
			case "text":
				render = docgen.ProviderText
			case "json":
				render = describeJSON
			case "markdown", "md":
				render = func(w io.Writer, spec *sdk.Spec) error { return docgen.ProviderMarkdown(w, spec, 1) }
			default:
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("unknown --format %q; use text, json or markdown", format)}
			}
			host := a.pluginHost(dir)
			defer host.Close()
			spec, err := host.Spec(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return render(a.stdout, spec)
		},
	}
	cmd.Flags().StringVar(&format, "format", format, "output format: text, json or markdown")
	cmd.Flags().StringVar(&dir, "dir", dir, "project directory whose herald.lock.json applies")
	return cmd
}

func describeJSON(w io.Writer, spec *sdk.Spec) error {
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
