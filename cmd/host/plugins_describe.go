package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
				render = describeText
			case "json":
				render = describeJSON
			case "markdown", "md":
				render = describeMarkdown
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

// row is one field of a schema flattened for a table: nested object fields
// as "to.mobile", fields of list elements as "files[].link".
type row struct {
	path  string
	field sdk.Field
}

func flatten(prefix string, fields []sdk.Field) []row {
	var out []row
	for _, f := range fields {
		path := prefix + f.Name
		out = append(out, row{path: path, field: f})
		switch {
		case f.Type == sdk.TypeObject && len(f.Fields) > 0:
			out = append(out, flatten(path+".", f.Fields)...)
		case f.Type == sdk.TypeArray && f.Items != nil && f.Items.Type == sdk.TypeObject && len(f.Items.Fields) > 0:
			out = append(out, flatten(path+"[].", f.Items.Fields)...)
		}
	}
	return out
}

// typeName renders a field's type: "string", "string[]", "object", "any".
func typeName(f sdk.Field) string {
	switch {
	case f.Type == "":
		return "any"
	case f.Type == sdk.TypeArray && f.Items != nil:
		return typeName(*f.Items) + "[]"
	case f.Type == sdk.TypeArray:
		return "any[]"
	default:
		return string(f.Type)
	}
}

// notes renders a field's description with its constraints, wrapping code
// in code(s).
func notes(f sdk.Field, code func(string) string) string {
	parts := []string{}
	if f.Description != "" {
		d := strings.TrimSpace(f.Description)
		if !strings.HasSuffix(d, ".") {
			d += "."
		}
		parts = append(parts, d)
	}
	if len(f.Enum) > 0 {
		vals := make([]string, len(f.Enum))
		for i, v := range f.Enum {
			vals[i] = code(v)
		}
		parts = append(parts, "One of "+strings.Join(vals, ", ")+".")
	}
	if f.Pattern != "" {
		parts = append(parts, "Must match "+code(f.Pattern)+".")
	}
	if f.Example != nil {
		parts = append(parts, "Example: "+code(jsonValue(f.Example))+".")
	}
	return strings.Join(parts, " ")
}

func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneOfNotes renders a schema's exactly-one-of groups as sentences.
func oneOfNotes(s sdk.Schema, code func(string) string) []string {
	var out []string
	for _, group := range s.ExactlyOneOf {
		names := make([]string, len(group))
		for i, n := range group {
			names[i] = code(n)
		}
		out = append(out, "Exactly one of "+strings.Join(names, ", ")+" must be set.")
	}
	return out
}

func describeText(w io.Writer, spec *sdk.Spec) error {
	plain := func(s string) string { return s }
	fmt.Fprintf(w, "%s %s\n", spec.Type, spec.Version)
	if spec.Description != "" {
		fmt.Fprintf(w, "%s\n", spec.Description)
	}
	if len(spec.Capabilities) > 0 {
		fmt.Fprintf(w, "Capabilities: %s\n", strings.Join(spec.Capabilities, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	schema := func(indent string, s sdk.Schema, config bool) {
		if len(s.Fields) == 0 {
			if s.AdditionalFields {
				fmt.Fprintf(tw, "%sany fields\n", indent)
			} else {
				fmt.Fprintf(tw, "%s(none)\n", indent)
			}
			return
		}
		for _, r := range flatten("", s.Fields) {
			var flags []string
			if r.field.Required {
				flags = append(flags, "required")
			}
			if config && r.field.Sensitive {
				flags = append(flags, "sensitive")
			}
			if r.field.Default != nil {
				flags = append(flags, "default "+jsonValue(r.field.Default))
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", indent, r.path, typeName(r.field), strings.Join(flags, ", "), notes(r.field, plain))
		}
		for _, n := range oneOfNotes(s, plain) {
			fmt.Fprintf(tw, "%s%s\n", indent, n)
		}
	}
	fmt.Fprintln(tw, "\nConfig:")
	schema("  ", spec.Config, true)
	fmt.Fprintln(tw, "\nActions:")
	for _, a := range spec.Actions {
		fmt.Fprintf(tw, "  %s\n", strings.TrimSpace(a.Name+"  "+a.Description))
		fmt.Fprintln(tw, "    input:")
		schema("      ", a.Input, false)
		fmt.Fprintln(tw, "    output:")
		schema("      ", a.Output, false)
	}
	if len(spec.Events) > 0 {
		fmt.Fprintln(tw, "\nEvents:")
		for _, e := range spec.Events {
			fmt.Fprintf(tw, "  %s\n", strings.TrimSpace(e.Name+"  "+e.Description))
			if e.Data != nil && len(e.Data.Fields) > 0 {
				schema("      ", *e.Data, false)
			}
		}
	}
	return tw.Flush()
}

func describeMarkdown(w io.Writer, spec *sdk.Spec) error {
	code := func(s string) string {
		ticks := "`"
		for strings.Contains(s, ticks) {
			ticks += "`"
		}
		if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
			s = " " + s + " "
		}
		return ticks + s + ticks
	}
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	var b strings.Builder
	fmt.Fprintf(&b, "# Provider %s\n\n", code(spec.Type))
	if spec.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", spec.Description)
	}
	fmt.Fprintf(&b, "- Version: %s\n- Plugin: %s\n", spec.Version, code("herald-provider-"+spec.Type))
	if len(spec.Capabilities) > 0 {
		fmt.Fprintf(&b, "- Capabilities: %s\n", strings.Join(spec.Capabilities, ", "))
	}
	schema := func(s sdk.Schema, config bool) {
		if len(s.Fields) == 0 {
			if s.AdditionalFields {
				b.WriteString("Any fields.\n\n")
			} else {
				b.WriteString("None.\n\n")
			}
			return
		}
		if config {
			b.WriteString("| Field | Type | Required | Sensitive | Default | Description |\n|---|---|---|---|---|---|\n")
		} else {
			b.WriteString("| Field | Type | Required | Default | Description |\n|---|---|---|---|---|\n")
		}
		for _, r := range flatten("", s.Fields) {
			def := ""
			if r.field.Default != nil {
				def = code(jsonValue(r.field.Default))
			}
			sensitive := ""
			if config {
				sensitive = "no | "
				if r.field.Sensitive {
					sensitive = "**yes** | "
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s%s | %s |\n", code(r.path), typeName(r.field), yesNo(r.field.Required), sensitive, cell(def), cell(notes(r.field, code)))
		}
		b.WriteString("\n")
		for _, n := range oneOfNotes(s, code) {
			fmt.Fprintf(&b, "%s\n\n", n)
		}
		if s.AdditionalFields {
			b.WriteString("Other fields are allowed.\n\n")
		}
	}
	b.WriteString("\n## Configuration\n\n")
	if len(spec.Config.SensitiveFields()) > 0 {
		b.WriteString("Sensitive values are never logged, recorded or shown; they appear as `***`.\n\n")
	}
	schema(spec.Config, true)
	b.WriteString("## Actions\n\n")
	for _, a := range spec.Actions {
		fmt.Fprintf(&b, "### %s\n\n", code(a.Name))
		if a.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", a.Description)
		}
		fmt.Fprintf(&b, "Use it in a step as `uses = \"<instance>.%s\"`.\n\n", a.Name)
		b.WriteString("**Input**\n\n")
		schema(a.Input, false)
		b.WriteString("**Output**\n\n")
		schema(a.Output, false)
	}
	if len(spec.Events) > 0 {
		b.WriteString("## Events\n\n")
		for _, e := range spec.Events {
			fmt.Fprintf(&b, "### %s\n\n", code(e.Name))
			if e.Description != "" {
				fmt.Fprintf(&b, "%s\n\n", e.Description)
			}
			if e.Data != nil && len(e.Data.Fields) > 0 {
				b.WriteString("**Data** (`trigger.event`)\n\n")
				schema(*e.Data, false)
			}
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}
