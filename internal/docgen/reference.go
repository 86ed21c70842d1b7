package docgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/heraldhq/herald/sdk"
)

// ProviderText writes a provider's reference as plain text: its version,
// capabilities, configuration (sensitive fields marked), each action with
// its input and output, and the events it emits. It is what `herald plugins
// describe NAME` prints.
func ProviderText(w io.Writer, spec *sdk.Spec) error {
	plain := func(s string) string { return s }
	fmt.Fprintf(w, "%s %s\n", spec.Type, spec.Version)
	if spec.Description != "" {
		fmt.Fprintf(w, "%s\n", spec.Description)
	}
	if len(spec.Capabilities) > 0 {
		fmt.Fprintf(w, "Capabilities: %s\n", strings.Join(spec.Capabilities, ", "))
	}
	if l := instanceLimit(spec.Limits, plain); l != "" {
		fmt.Fprintf(w, "Rate limit: %s\n", l)
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
		if l := recipientLimit(a.RecipientLimit, plain); l != "" {
			fmt.Fprintf(tw, "    rate limit per %s\n", l)
		}
		fmt.Fprintln(tw, "    input:")
		schema("      ", a.Input, false)
		fmt.Fprintln(tw, "    output:")
		schema("      ", a.Output, false)
		if d := a.Delivery; d != nil {
			fmt.Fprintf(tw, "    delivery: receipts come as %s, naming the message by output.%s\n", d.Event, d.OutputField)
		}
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

// ProviderMarkdown writes a provider's reference as markdown: a title,
// a configuration table with sensitive fields marked, each action with
// tables of its input and output, and each event with its data. The title
// is a heading of level (1 for a page of its own, 2 for a section of a
// longer page); the other headings follow from it. With level 1 it is what
// `herald plugins describe NAME --format markdown` prints.
func ProviderMarkdown(w io.Writer, spec *sdk.Spec, level int) error {
	if level < 1 {
		level = 1
	}
	heading := func(depth int) string { return strings.Repeat("#", level-1+depth) }
	var b strings.Builder
	fmt.Fprintf(&b, "%s Provider %s\n\n", heading(1), code(spec.Type))
	if spec.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", spec.Description)
	}
	fmt.Fprintf(&b, "- Version: %s\n- Plugin: %s\n", spec.Version, code("herald-provider-"+spec.Type))
	if len(spec.Capabilities) > 0 {
		fmt.Fprintf(&b, "- Capabilities: %s\n", strings.Join(spec.Capabilities, ", "))
	}
	if l := instanceLimit(spec.Limits, code); l != "" {
		fmt.Fprintf(&b, "- Rate limit: %s\n", l)
	} else {
		b.WriteString("- Rate limit: none declared; set one with `rate_limit`\n")
	}
	fmt.Fprintf(&b, "\n%s Configuration\n\n", heading(2))
	if len(spec.Config.SensitiveFields()) > 0 {
		b.WriteString("Sensitive values are never logged, recorded or shown; they appear as `***`.\n\n")
	}
	markdownSchema(&b, spec.Config, true)
	fmt.Fprintf(&b, "%s Actions\n\n", heading(2))
	for _, a := range spec.Actions {
		fmt.Fprintf(&b, "%s %s\n\n", heading(3), code(a.Name))
		if a.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", a.Description)
		}
		fmt.Fprintf(&b, "Use it in a step as `uses = \"<instance>.%s\"`.\n\n", a.Name)
		if l := recipientLimit(a.RecipientLimit, code); l != "" {
			fmt.Fprintf(&b, "Rate limit per %s.\n\n", l)
		}
		b.WriteString("**Input**\n\n")
		markdownSchema(&b, a.Input, false)
		b.WriteString("**Output**\n\n")
		markdownSchema(&b, a.Output, false)
		if d := a.Delivery; d != nil {
			fmt.Fprintf(&b, "**Delivery receipts**: %s events report the delivery of the message whose id is the output's %s; "+
				"Herald records them as the step's `delivery` ([delivery receipts](workflow-language.md#delivery-receipts)).\n\n", code(d.Event), code(d.OutputField))
		}
	}
	if len(spec.Events) > 0 {
		fmt.Fprintf(&b, "%s Events\n\n", heading(2))
		for _, e := range spec.Events {
			fmt.Fprintf(&b, "%s %s\n\n", heading(3), code(e.Name))
			if e.Description != "" {
				fmt.Fprintf(&b, "%s\n\n", e.Description)
			}
			if e.Data != nil && len(e.Data.Fields) > 0 {
				b.WriteString("**Data** (`trigger.event`)\n\n")
				markdownSchema(&b, *e.Data, false)
			}
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// markdownSchema writes a schema's fields as a table, followed by its
// exactly-one-of groups; config tables have a Sensitive column.
func markdownSchema(b *strings.Builder, s sdk.Schema, config bool) {
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
		fmt.Fprintf(b, "| %s | %s | %s | %s%s | %s |\n", code(r.path), typeName(r.field), yesNo(r.field.Required), sensitive, cell(def), cell(notes(r.field, code)))
	}
	b.WriteString("\n")
	for _, n := range oneOfNotes(s, code) {
		fmt.Fprintf(b, "%s\n\n", n)
	}
	if s.AdditionalFields {
		b.WriteString("Other fields are allowed.\n\n")
	}
}

// code renders s as markdown inline code, with enough backticks around it
// to hold the backticks it contains.
func code(s string) string {
	ticks := "`"
	for strings.Contains(s, ticks) {
		ticks += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// cell escapes s for a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
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
	case f.Type == sdk.TypeStringOrInteger:
		return "string or integer"
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
	parts = append(parts, bounds(f)...)
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

// bounds renders a field's minimum, maximum and length bounds as sentences.
func bounds(f sdk.Field) []string {
	var out []string
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch {
	case f.Minimum != nil && f.Maximum != nil:
		out = append(out, "Between "+num(*f.Minimum)+" and "+num(*f.Maximum)+".")
	case f.Minimum != nil:
		out = append(out, "At least "+num(*f.Minimum)+".")
	case f.Maximum != nil:
		out = append(out, "At most "+num(*f.Maximum)+".")
	}
	unit := func(n int) string {
		u := "character"
		if f.Type == sdk.TypeArray {
			u = "element"
		}
		if n != 1 {
			u += "s"
		}
		return u
	}
	switch {
	case f.MinLength != nil && f.MaxLength != nil:
		out = append(out, fmt.Sprintf("%d to %d %s.", *f.MinLength, *f.MaxLength, unit(*f.MaxLength)))
	case f.MinLength != nil:
		out = append(out, fmt.Sprintf("At least %d %s.", *f.MinLength, unit(*f.MinLength)))
	case f.MaxLength != nil:
		out = append(out, fmt.Sprintf("At most %d %s.", *f.MaxLength, unit(*f.MaxLength)))
	}
	return out
}
