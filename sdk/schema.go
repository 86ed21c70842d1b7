package sdk

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Type is the JSON type of a schema field.
type Type string

// The field types a schema can declare.
const (
	TypeString  Type = "string"
	TypeInteger Type = "integer"
	TypeNumber  Type = "number"
	TypeBoolean Type = "boolean"
	TypeObject  Type = "object"
	TypeArray   Type = "array"
	TypeAny     Type = "any"
	// TypeStringOrInteger accepts a string or an integer, such as a chat id
	// that is a number (-1001234567890) or a name ("@channel"). Pattern and
	// Enum apply to strings; Minimum and Maximum to integers.
	TypeStringOrInteger Type = "string_or_integer"
)

// Field declares one named value of a config, input, output or event schema.
// Build fields with String, Integer, Number, Bool, Object, Map, Array and Any,
// then refine them with the chainable methods.
type Field struct {
	Name        string   `json:"name,omitempty"`
	Type        Type     `json:"type"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Sensitive   bool     `json:"sensitive,omitempty"`
	Default     any      `json:"default,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Example     any      `json:"example,omitempty"`
	// Minimum and Maximum bound a number or an integer, inclusively.
	Minimum *float64 `json:"minimum,omitempty"`
	Maximum *float64 `json:"maximum,omitempty"`
	// MinLength and MaxLength bound the length of a string (in characters)
	// or of a list (in elements).
	MinLength *int `json:"min_length,omitempty"`
	MaxLength *int `json:"max_length,omitempty"`
	// Check is a validator written in Go, run after the declarative checks
	// pass. It runs only where the Go value exists: in the plugin, when an
	// instance is configured and before each invoke (its error becomes a
	// permanent error naming the field). The host sees the schema as JSON
	// and cannot run it at `herald validate`: express what validate must
	// catch with the declarative checks above.
	Check func(v any) error `json:"-"`
	// Items is the element of an array field.
	Items *Field `json:"items,omitempty"`
	// Fields are the keys of an object field; nil means any keys.
	Fields []Field `json:"fields,omitempty"`
	// ExactlyOneOf and AtLeastOneOf constrain the keys of an object field
	// as they do a Schema's.
	ExactlyOneOf [][]string `json:"exactly_one_of,omitempty"`
	AtLeastOneOf [][]string `json:"at_least_one_of,omitempty"`
}

// String declares a string field.
func String(name, description string) Field {
	return Field{Name: name, Type: TypeString, Description: description}
}

// Integer declares an integer field.
func Integer(name, description string) Field {
	return Field{Name: name, Type: TypeInteger, Description: description}
}

// Number declares a number field.
func Number(name, description string) Field {
	return Field{Name: name, Type: TypeNumber, Description: description}
}

// Bool declares a boolean field.
func Bool(name, description string) Field {
	return Field{Name: name, Type: TypeBoolean, Description: description}
}

// Any declares a field of any JSON type.
func Any(name, description string) Field {
	return Field{Name: name, Type: TypeAny, Description: description}
}

// Object declares an object field with the given keys; unknown keys are
// rejected.
func Object(name, description string, fields ...Field) Field {
	if fields == nil {
		fields = []Field{}
	}
	return Field{Name: name, Type: TypeObject, Description: description, Fields: fields}
}

// Map declares an object field with free-form keys.
func Map(name, description string) Field {
	return Field{Name: name, Type: TypeObject, Description: description}
}

// Array declares an array field whose elements are items (its name is
// ignored).
func Array(name, description string, items Field) Field {
	items.Name = ""
	return Field{Name: name, Type: TypeArray, Description: description, Items: &items}
}

// AsRequired returns the field marked required.
func (f Field) AsRequired() Field { f.Required = true; return f }

// AsSensitive returns the field marked sensitive: its value is masked as
// "***" in logs, run history, dry-run output and errors.
func (f Field) AsSensitive() Field { f.Sensitive = true; return f }

// WithDefault returns the field with a default value applied when absent.
func (f Field) WithDefault(v any) Field { f.Default = v; return f }

// OneOf returns the field restricted to the given values.
func (f Field) OneOf(values ...string) Field { f.Enum = values; return f }

// Matching returns the field restricted to strings matching the regular
// expression re.
func (f Field) Matching(re string) Field { f.Pattern = re; return f }

// WithExample returns the field with an example value for the docs.
func (f Field) WithExample(v any) Field { f.Example = v; return f }

// Schema declares the keys of a JSON object: a provider's config, an action's
// input or output, or an event's data.
type Schema struct {
	Fields []Field `json:"fields,omitempty"`
	// ExactlyOneOf lists groups of field names of which exactly one must be
	// present, such as {"phone", "chat_id"}.
	ExactlyOneOf [][]string `json:"exactly_one_of,omitempty"`
	// AtLeastOneOf lists groups of field names of which at least one must
	// be present, such as {"identifier", "phone_number", "email"}.
	AtLeastOneOf [][]string `json:"at_least_one_of,omitempty"`
	// AdditionalFields allows keys the schema does not declare.
	AdditionalFields bool `json:"additional_fields,omitempty"`
}

// RequireExactlyOne returns the field (an object) requiring exactly one of
// the named keys.
func (f Field) RequireExactlyOne(names ...string) Field {
	f.ExactlyOneOf = append(f.ExactlyOneOf, names)
	return f
}

// RequireOneOrMore returns the field (an object) requiring at least one of
// the named keys.
func (f Field) RequireOneOrMore(names ...string) Field {
	f.AtLeastOneOf = append(f.AtLeastOneOf, names)
	return f
}

// Fields builds a schema from fields.
func Fields(fields ...Field) Schema { return Schema{Fields: fields} }

// Field returns the field named name.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// SensitiveFields returns the names of the top-level fields marked sensitive.
func (s Schema) SensitiveFields() []string {
	var out []string
	for _, f := range s.Fields {
		if f.Sensitive {
			out = append(out, f.Name)
		}
	}
	return out
}

// FieldError is one problem with one value, found by Schema.Validate.
type FieldError struct {
	// Path locates the value, such as "to.mobile" or "params[1]".
	Path    string
	Message string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidateOptions tunes Schema.Validate.
type ValidateOptions struct {
	// Dynamic reports values that are not known yet, such as a string holding
	// a {{ }} template. They pass type, pattern and enum checks; their presence
	// still counts for required fields and ExactlyOneOf groups.
	Dynamic func(v any) bool
}

// Validate checks v against the schema and returns every problem found, in a
// stable order. Values must be plain Go values as encoding/json produces them,
// with integers allowed as any Go integer type or json.Number.
func (s Schema) Validate(v map[string]any, opts ValidateOptions) []*FieldError {
	var errs []*FieldError
	s.validateObject("", v, opts, &errs)
	return errs
}

func (s Schema) validateObject(path string, v map[string]any, opts ValidateOptions, errs *[]*FieldError) {
	for _, f := range s.Fields {
		val, ok := v[f.Name]
		if !ok || val == nil {
			if f.Required {
				*errs = append(*errs, &FieldError{Path: join(path, f.Name), Message: "required field is missing"})
			}
			continue
		}
		f.validate(join(path, f.Name), val, opts, errs)
	}
	for _, group := range s.ExactlyOneOf {
		var present []string
		for _, name := range group {
			if val, ok := v[name]; ok && val != nil {
				present = append(present, name)
			}
		}
		if len(present) != 1 {
			what := "none is set"
			if len(present) > 1 {
				what = strings.Join(present, " and ") + " are both set"
			}
			// The error points at the group's first field, so a caller that
			// locates errors by path finds a line to show.
			*errs = append(*errs, &FieldError{Path: join(path, group[0]), Message: fmt.Sprintf("exactly one of %s must be set, but %s", strings.Join(group, ", "), what)})
		}
	}
	for _, group := range s.AtLeastOneOf {
		found := false
		for _, name := range group {
			if val, ok := v[name]; ok && val != nil {
				found = true
				break
			}
		}
		if !found {
			*errs = append(*errs, &FieldError{Path: join(path, group[0]), Message: fmt.Sprintf("at least one of %s must be set", strings.Join(group, ", "))})
		}
	}
	if !s.AdditionalFields {
		var unknown []string
		for k := range v {
			if _, ok := s.Field(k); !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			*errs = append(*errs, &FieldError{Path: join(path, k), Message: "unknown field" + s.suggest(k)})
		}
	}
}

func (s Schema) suggest(k string) string {
	names := make([]string, 0, len(s.Fields))
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return "; expected one of " + strings.Join(names, ", ")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var patternCache sync.Map // string → *pattern

func compilePattern(p string) (*pattern, error) {
	if re, ok := patternCache.Load(p); ok {
		return re.(*pattern), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	c := &pattern{re: re, run: runOf(p)}
	patternCache.Store(p, c)
	return c, nil
}

func (f Field) validate(path string, v any, opts ValidateOptions, errs *[]*FieldError) {
	if opts.Dynamic != nil && opts.Dynamic(v) {
		return
	}
	bad := func(format string, args ...any) {
		*errs = append(*errs, &FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	before := len(*errs)
	switch f.Type {
	case TypeAny, "":
	case TypeStringOrInteger:
		if _, isInt := asInteger(v); isInt {
			f.checkBounds(v, bad)
			break
		}
		s, ok := v.(string)
		if !ok {
			bad("must be a string or an integer, got %s", typeName(v))
			return
		}
		f.checkString(s, bad)
	case TypeString:
		s, ok := v.(string)
		if !ok {
			bad("must be a string, got %s", typeName(v))
			return
		}
		f.checkString(s, bad)
	case TypeInteger:
		if _, ok := asInteger(v); !ok {
			bad("must be an integer, got %s", typeName(v))
			return
		}
		f.checkBounds(v, bad)
	case TypeNumber:
		if _, ok := asNumber(v); !ok {
			bad("must be a number, got %s", typeName(v))
			return
		}
		f.checkBounds(v, bad)
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			bad("must be a boolean, got %s", typeName(v))
		}
	case TypeArray:
		list, ok := v.([]any)
		if !ok {
			bad("must be a list, got %s", typeName(v))
			return
		}
		f.checkLength(len(list), "element", bad)
		if f.Items != nil {
			for i, item := range list {
				if item == nil {
					bad("element %d is null", i)
					continue
				}
				f.Items.validate(fmt.Sprintf("%s[%d]", path, i), item, opts, errs)
			}
		}
	case TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			bad("must be an object, got %s", typeName(v))
			return
		}
		if f.Fields != nil {
			Schema{Fields: f.Fields, ExactlyOneOf: f.ExactlyOneOf, AtLeastOneOf: f.AtLeastOneOf}.validateObject(path, m, opts, errs)
		}
	default:
		bad("schema type %q is unknown", f.Type)
		return
	}
	if f.Check != nil && len(*errs) == before {
		if err := f.Check(v); err != nil {
			bad("%v", err)
		}
	}
}

// checkString applies Enum, Pattern and the length bounds to a string.
func (f Field) checkString(s string, bad func(string, ...any)) {
	if len(f.Enum) > 0 && !contains(f.Enum, s) {
		bad("must be one of %s, got %q", strings.Join(f.Enum, ", "), s)
	}
	if f.Pattern != "" {
		re, err := compilePattern(f.Pattern)
		if err != nil {
			bad("schema pattern %q is invalid: %v", f.Pattern, err)
		} else if !re.MatchString(s) {
			bad("%q does not match %s", s, f.Pattern)
		}
	}
	f.checkLength(utf8.RuneCountInString(s), "character", bad)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	if i, ok := asInteger(v); ok {
		return float64(i), true
	}
	return 0, false
}

func asInteger(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && !math.IsInf(n, 0) {
			return int64(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	if _, ok := asInteger(v); ok {
		return "integer"
	}
	if _, ok := asNumber(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// ApplyDefaults returns a copy of v with the schema's defaults filled in for
// absent top-level fields.
func (s Schema) ApplyDefaults(v map[string]any) map[string]any {
	out := make(map[string]any, len(v)+len(s.Fields))
	for k, val := range v {
		out[k] = val
	}
	for _, f := range s.Fields {
		if _, ok := out[f.Name]; !ok && f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}

// withDefaults is ApplyDefaults for a map the caller owns: v itself when it
// lacks no field that has a default, so that a call whose input names every
// defaulted field (or whose action declares no default) copies nothing.
func (s Schema) withDefaults(v map[string]any) map[string]any {
	for _, f := range s.Fields {
		if f.Default == nil {
			continue
		}
		if _, ok := v[f.Name]; !ok {
			return s.ApplyDefaults(v)
		}
	}
	return v
}

// JSONSchema returns the schema as a JSON Schema (draft 2020-12) object, for
// editors and docs.
func (s Schema) JSONSchema() map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range s.Fields {
		props[f.Name] = f.JSONSchema()
		if f.Required {
			required = append(required, f.Name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": s.AdditionalFields}
	if len(required) > 0 {
		out["required"] = required
	}
	var all []any
	for _, group := range s.AtLeastOneOf {
		var any1 []any
		for _, name := range group {
			any1 = append(any1, map[string]any{"required": []string{name}})
		}
		all = append(all, map[string]any{"anyOf": any1})
	}
	if len(s.ExactlyOneOf) > 0 {
		for _, group := range s.ExactlyOneOf {
			var one []any
			for _, name := range group {
				one = append(one, map[string]any{"required": []string{name}})
			}
			all = append(all, map[string]any{"oneOf": one})
		}
	}
	if len(all) > 0 {
		out["allOf"] = all
	}
	return out
}

// JSONSchema returns the field's value schema as a JSON Schema object.
func (f Field) JSONSchema() map[string]any {
	out := map[string]any{}
	if f.Description != "" {
		out["description"] = f.Description
	}
	switch f.Type {
	case TypeAny, "":
	case TypeObject:
		out["type"] = "object"
		if f.Fields != nil {
			sub := Schema{Fields: f.Fields, ExactlyOneOf: f.ExactlyOneOf, AtLeastOneOf: f.AtLeastOneOf}.JSONSchema()
			for k, v := range sub {
				out[k] = v
			}
		}
	case TypeArray:
		out["type"] = "array"
		if f.Items != nil {
			out["items"] = f.Items.JSONSchema()
		}
	case TypeStringOrInteger:
		out["type"] = []string{"string", "integer"}
	default:
		out["type"] = string(f.Type)
	}
	if len(f.Enum) > 0 {
		out["enum"] = f.Enum
	}
	if f.Pattern != "" {
		out["pattern"] = f.Pattern
	}
	f.boundsJSONSchema(out)
	if f.Default != nil {
		out["default"] = f.Default
	}
	if f.Sensitive {
		out["writeOnly"] = true
	}
	return out
}
