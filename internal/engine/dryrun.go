package engine

import (
	"github.com/heraldhq/herald/sdk"
)

// dryRunOutput is what later steps of a dry run see as a step's output: the
// rendered requests (dry_run, requests) plus a stand-in for every field the
// action's output schema declares, so that templates such as
// {{ steps.contact.output.contact_id }} still render: the field's declared
// example where it has one, else "{steps.<id>.output.<field>}" for strings,
// 1 for numbers (ids must be positive) and false for booleans.
func (x *execution) dryRunOutput(instance, action, stepID string, rendered any) any {
	prov, ok := x.st.project.Providers[instance]
	if !ok || prov.Spec == nil {
		return rendered
	}
	act, ok := prov.Spec.Action(action)
	if !ok {
		return rendered
	}
	out := placeholders(act.Output.Fields, "steps."+stepID+".output")
	if m, ok := rendered.(map[string]any); ok {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func placeholders(fields []sdk.Field, path string) map[string]any {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		out[f.Name] = placeholder(f, path+"."+f.Name)
	}
	return out
}

func placeholder(f sdk.Field, path string) any {
	if f.Example != nil {
		return f.Example
	}
	switch f.Type {
	case sdk.TypeInteger:
		return int64(1)
	case sdk.TypeNumber:
		return float64(1)
	case sdk.TypeBoolean:
		return false
	case sdk.TypeArray:
		return []any{}
	case sdk.TypeObject:
		return placeholders(f.Fields, path)
	default:
		return "{" + path + "}"
	}
}
