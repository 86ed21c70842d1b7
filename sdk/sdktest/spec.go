package sdktest

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

var (
	typeName  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
)

var knownTypes = map[sdk.Type]bool{
	sdk.TypeString: true, sdk.TypeInteger: true, sdk.TypeNumber: true, sdk.TypeBoolean: true,
	sdk.TypeObject: true, sdk.TypeArray: true, sdk.TypeAny: true, sdk.TypeStringOrInteger: true,
}

// stringy are the types Pattern and Enum apply to.
func stringy(t sdk.Type) bool { return t == sdk.TypeString || t == sdk.TypeStringOrInteger }

// specProblems returns everything wrong with spec as the host sees it: one
// message per problem, each naming where it is.
func specProblems(spec *sdk.Spec) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if !typeName.MatchString(spec.Type) {
		add("type %q must be lowercase letters, digits and underscores, starting with a letter", spec.Type)
	}
	if strings.TrimSpace(spec.Version) == "" {
		add("version is empty")
	}
	out = append(out, schemaProblems("config", spec.Config)...)
	if spec.Limits != nil {
		if err := spec.Limits.Validate(); err != nil {
			add("limits: %v", err)
		}
	}
	seen := map[string]bool{}
	for i, a := range spec.Actions {
		where := fmt.Sprintf("action %q", a.Name)
		if a.Name == "" {
			where = fmt.Sprintf("action #%d", i)
		}
		if !snakeCase.MatchString(a.Name) {
			add("%s: name must be snake_case", where)
		}
		if seen[a.Name] {
			add("%s: declared twice", where)
		}
		seen[a.Name] = true
		out = append(out, schemaProblems(where+" input", a.Input)...)
		out = append(out, schemaProblems(where+" output", a.Output)...)
		if rl := a.RecipientLimit; rl != nil {
			if err := rl.Validate(); err != nil {
				add("%s recipient limit: %v", where, err)
			} else if rl.Field != "" {
				if _, ok := a.Input.Field(strings.Split(rl.Field, ".")[0]); !ok {
					add("%s recipient limit: field %q is not an input field", where, rl.Field)
				}
			}
		}
		out = append(out, deliveryProblems(where, spec, a)...)
	}
	seenEvents := map[string]bool{}
	for _, e := range spec.Events {
		where := fmt.Sprintf("event %q", e.Name)
		name, ok := strings.CutPrefix(e.Name, spec.Type+".")
		if !ok || !snakeCase.MatchString(name) {
			add("%s: name must be %s.<snake_case name>", where, spec.Type)
		}
		if seenEvents[e.Name] {
			add("%s: declared twice", where)
		}
		seenEvents[e.Name] = true
		if e.Data != nil {
			out = append(out, schemaProblems(where+" data", *e.Data)...)
		}
	}
	return out
}

func schemaProblems(where string, s sdk.Schema) []string {
	var out []string
	out = append(out, fieldsProblems(where, s.Fields)...)
	for _, group := range s.ExactlyOneOf {
		if len(group) == 0 {
			out = append(out, where+": empty exactly_one_of group")
		}
		for _, name := range group {
			if _, ok := s.Field(name); !ok {
				out = append(out, fmt.Sprintf("%s: exactly_one_of names %q, which is not a field", where, name))
			}
		}
	}
	return out
}

func fieldsProblems(where string, fields []sdk.Field) []string {
	var out []string
	seen := map[string]bool{}
	for i, f := range fields {
		fw := fmt.Sprintf("%s field %q", where, f.Name)
		if f.Name == "" {
			fw = fmt.Sprintf("%s field #%d", where, i)
			out = append(out, fw+": name is empty")
		} else if seen[f.Name] {
			out = append(out, fw+": declared twice")
		}
		seen[f.Name] = true
		out = append(out, fieldProblems(fw, f)...)
	}
	return out
}

func fieldProblems(where string, f sdk.Field) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, where+": "+fmt.Sprintf(format, args...)) }
	if !knownTypes[f.Type] {
		add("type %q is not one of string, integer, number, boolean, object, array, any, string_or_integer", f.Type)
		return out
	}
	if f.Pattern != "" {
		if _, err := regexp.Compile(f.Pattern); err != nil {
			add("pattern does not compile: %v", err)
		}
		if !stringy(f.Type) {
			add("pattern is never checked on a field of type %s", f.Type)
		}
	}
	if len(f.Enum) > 0 && !stringy(f.Type) {
		add("enum is never checked on a field of type %s", f.Type)
	}
	if (f.Minimum != nil || f.Maximum != nil) && f.Type != sdk.TypeInteger && f.Type != sdk.TypeNumber && f.Type != sdk.TypeStringOrInteger {
		add("minimum and maximum are never checked on a field of type %s", f.Type)
	}
	if (f.MinLength != nil || f.MaxLength != nil) && !stringy(f.Type) && f.Type != sdk.TypeArray {
		add("min_length and max_length are never checked on a field of type %s", f.Type)
	}
	if f.Default != nil {
		d := f
		d.Required = false
		if errs := (sdk.Schema{Fields: []sdk.Field{d}}).Validate(map[string]any{f.Name: f.Default}, sdk.ValidateOptions{}); len(errs) > 0 {
			add("default %v is invalid: %v", f.Default, errs[0].Message)
		}
	}
	switch f.Type {
	case sdk.TypeArray:
		if f.Items != nil {
			item := *f.Items
			item.Name = "[]"
			out = append(out, fieldProblems(where+" items", item)...)
		}
	case sdk.TypeObject:
		if f.Fields != nil {
			out = append(out, fieldsProblems(where, f.Fields)...)
		}
	}
	return out
}

// deliveryProblems checks an action's delivery declaration: its event must
// be one the provider declares and its output field one of the output's.
func deliveryProblems(where string, spec *sdk.Spec, a sdk.Action) []string {
	d := a.Delivery
	if d == nil {
		return nil
	}
	var out []string
	if _, ok := spec.Event(d.Event); !ok {
		out = append(out, fmt.Sprintf("%s: delivery event %q is not among the provider's events", where, d.Event))
	}
	if _, ok := a.Output.Field(d.OutputField); !ok {
		out = append(out, fmt.Sprintf("%s: delivery output field %q is not in the output schema", where, d.OutputField))
	}
	return out
}
