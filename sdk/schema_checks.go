package sdk

import (
	"encoding/json"
	"strconv"
)

// StringOrInteger declares a field that accepts a string or an integer,
// such as a chat id that is a number (-1001234567890) or a name
// ("@channel").
func StringOrInteger(name, description string) Field {
	return Field{Name: name, Type: TypeStringOrInteger, Description: description}
}

// AtLeast returns the field (a number or an integer) bounded below by min,
// inclusively. `herald validate` checks it.
func (f Field) AtLeast(min float64) Field { f.Minimum = &min; return f }

// AtMost returns the field (a number or an integer) bounded above by max,
// inclusively. `herald validate` checks it.
func (f Field) AtMost(max float64) Field { f.Maximum = &max; return f }

// WithLength returns the field (a string or a list) whose length must be
// between min and max, inclusively; a max below 0 means no upper bound.
// `herald validate` checks it.
func (f Field) WithLength(min, max int) Field {
	f.MinLength = &min
	if max >= 0 {
		f.MaxLength = &max
	} else {
		f.MaxLength = nil
	}
	return f
}

// Checked returns the field with a validator written in Go, run after the
// declarative checks pass, in the plugin only: when an instance is
// configured and before each invoke. The host cannot run it at `herald
// validate`, so prefer the declarative checks (OneOf, Matching, AtLeast,
// AtMost, WithLength) for anything validate should catch, and keep Check
// for what they cannot say (a checksum, a date in the future).
func (f Field) Checked(check func(v any) error) Field { f.Check = check; return f }

// checkBounds applies Minimum and Maximum to a number.
func (f Field) checkBounds(v any, bad func(string, ...any)) {
	n, ok := asNumber(v)
	if !ok {
		return
	}
	if f.Minimum != nil && n < *f.Minimum {
		bad("%s is below the minimum %s", formatNumber(v), strconv.FormatFloat(*f.Minimum, 'g', -1, 64))
	}
	if f.Maximum != nil && n > *f.Maximum {
		bad("%s is above the maximum %s", formatNumber(v), strconv.FormatFloat(*f.Maximum, 'g', -1, 64))
	}
}

// checkLength applies MinLength and MaxLength to a length counted in units
// ("character", "element").
func (f Field) checkLength(n int, unit string, bad func(string, ...any)) {
	if f.MinLength != nil && n < *f.MinLength {
		bad("has %d %s, fewer than the minimum %d", n, plural(n, unit), *f.MinLength)
	}
	if f.MaxLength != nil && n > *f.MaxLength {
		bad("has %d %s, more than the maximum %d", n, plural(n, unit), *f.MaxLength)
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return unit
	}
	return unit + "s"
}

func formatNumber(v any) string {
	if i, ok := asInteger(v); ok {
		return strconv.FormatInt(i, 10)
	}
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	f, _ := asNumber(v)
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// boundsJSONSchema adds the field's bounds to its JSON Schema.
func (f Field) boundsJSONSchema(out map[string]any) {
	if f.Minimum != nil {
		out["minimum"] = *f.Minimum
	}
	if f.Maximum != nil {
		out["maximum"] = *f.Maximum
	}
	minKey, maxKey := "minLength", "maxLength"
	if f.Type == TypeArray {
		minKey, maxKey = "minItems", "maxItems"
	}
	if f.MinLength != nil {
		out[minKey] = *f.MinLength
	}
	if f.MaxLength != nil {
		out[maxKey] = *f.MaxLength
	}
}
