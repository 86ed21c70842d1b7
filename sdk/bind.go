package sdk

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsonenc"
)

// Call.Bind's direct path: a struct whose fields are plain strings, booleans,
// numbers and lists of strings is filled from the input map without encoding
// it to JSON and decoding it again. It gives exactly what the round trip
// gives, or declines (bindInput returns false, having changed nothing) and
// Bind takes the round trip: for a type or a value it does not know, a key
// that would match a field only case-insensitively, a value the encoder would
// change or refuse, a mismatch that would be an error, or a list field that
// already holds a list (the decoder would reuse its array).

// bindField is one field the direct path sets: its JSON name and where it is.
type bindField struct {
	name  string
	index []int
	typ   reflect.Type
}

// bindPlan is how the direct path fills one struct type.
type bindPlan struct {
	fields map[string]*bindField
	// folded holds the fields' names in lower case: a key that matches
	// one only this way is left to encoding/json's case-insensitive match.
	folded map[string]bool
}

// bindPlans caches a *bindPlan per struct type; a nil plan means the type
// has a field the direct path leaves to encoding/json.
var bindPlans sync.Map

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// bindInput fills v, a pointer to a struct, from input as decoding input's
// JSON encoding would, and reports whether it did; when it returns false, v
// is unchanged.
func bindInput(input map[string]any, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	dst := rv.Elem()
	plan := planFor(dst.Type())
	if plan == nil {
		return false
	}
	type assignment struct {
		field *bindField
		value reflect.Value
	}
	var buf [16]assignment
	assignments := buf[:0]
	for key, val := range input {
		f, ok := plan.fields[key]
		if !ok {
			// encoding/json would set a field whose name folds to the
			// key's (Unicode folding: "ſ" matches "s").
			if !isASCII(key) || plan.folded[lowerASCII(key)] || !encodable(val) {
				return false
			}
			continue
		}
		fv := dst.FieldByIndex(f.index)
		if val == nil {
			// JSON null sets a list to nil and leaves anything else.
			if fv.Kind() == reflect.Slice {
				assignments = append(assignments, assignment{f, reflect.Zero(f.typ)})
			}
			continue
		}
		if fv.Kind() == reflect.Slice && !fv.IsNil() {
			return false
		}
		conv, ok := bindValue(val, f.typ)
		if !ok {
			return false
		}
		assignments = append(assignments, assignment{f, conv})
	}
	for _, a := range assignments {
		dst.FieldByIndex(a.field.index).Set(a.value)
	}
	return true
}

// bindValue converts a decoded JSON value to typ as encoding it and decoding
// the result into typ would, or reports false.
func bindValue(val any, typ reflect.Type) (reflect.Value, bool) {
	out := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		s, ok := val.(string)
		if !ok || !utf8.ValidString(s) {
			return out, false
		}
		out.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return out, false
		}
		out.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		n, ok := numberText(val)
		if !ok || !setNumber(out, n) {
			return out, false
		}
	case reflect.Slice:
		list, ok := val.([]any)
		if !ok {
			return out, false
		}
		out = reflect.MakeSlice(typ, len(list), len(list))
		for i, item := range list {
			s, ok := item.(string)
			if !ok || !utf8.ValidString(s) {
				return out, false
			}
			out.Index(i).SetString(s)
		}
	default:
		return out, false
	}
	return out, true
}

// setNumber sets out, an integer or a float, to the JSON number n as the
// decoder would, or reports false where the decoder fails: n is not of
// out's kind (a fraction for an integer) or does not fit its size.
func setNumber(out reflect.Value, n string) bool {
	switch {
	case out.CanInt():
		i, err := strconv.ParseInt(n, 10, 64)
		ok := err == nil && !out.OverflowInt(i)
		out.SetInt(i)
		return ok
	case out.CanUint():
		u, err := strconv.ParseUint(n, 10, 64)
		ok := err == nil && !out.OverflowUint(u)
		out.SetUint(u)
		return ok
	default:
		f, err := strconv.ParseFloat(n, out.Type().Bits())
		ok := err == nil && !out.OverflowFloat(f)
		out.SetFloat(f)
		return ok
	}
}

// numberText returns the text of val when it is a json.Number that
// json.Marshal encodes as it is.
func numberText(val any) (string, bool) {
	n, ok := val.(json.Number)
	if !ok || !jsonenc.ValidNumber(string(n)) {
		return "", false
	}
	return string(n), true
}

// encodable reports whether json.Marshal encodes v without an error, for
// the values of keys no field takes; false also for values it does not know.
func encodable(v any) bool {
	switch x := v.(type) {
	case nil, string, bool:
		return true
	case json.Number:
		return jsonenc.ValidNumber(string(x))
	case []any:
		for _, item := range x {
			if !encodable(item) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, item := range x {
			if !encodable(item) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// planFor returns the cached plan of struct type t, nil when the direct path
// leaves t to encoding/json.
func planFor(t reflect.Type) *bindPlan {
	if p, ok := bindPlans.Load(t); ok {
		return p.(*bindPlan)
	}
	plan := &bindPlan{fields: map[string]*bindField{}, folded: map[string]bool{}}
	if !plan.add(t, nil) {
		plan = nil
	}
	bindPlans.Store(t, plan)
	return plan
}

// add adds struct type t's fields, found at index below the bound struct, as
// encoding/json sees them, and reports false for a type the direct path
// does not take: one that decodes itself, a field of another kind, a tag
// option other than omitempty and omitzero, or two fields whose names are
// equal up to case (encoding/json's rules for those are left to it).
func (p *bindPlan) add(t reflect.Type, index []int) bool {
	if unmarshals(t) {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && opt != "omitempty" && opt != "omitzero" {
				return false
			}
		}
		at := append(append([]int(nil), index...), i)
		if sf.Anonymous && name == "" {
			if sf.Type.Kind() != reflect.Struct {
				return false
			}
			if !p.add(sf.Type, at) {
				return false
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		} else if !plainName(name) {
			return false
		}
		if !bindable(sf.Type) {
			return false
		}
		folded := lowerASCII(name)
		if p.folded[folded] {
			return false
		}
		p.folded[folded] = true
		p.fields[name] = &bindField{name: name, index: at, typ: sf.Type}
	}
	return true
}

// bindable reports whether bindValue sets a field of type t.
func bindable(t reflect.Type) bool {
	if unmarshals(t) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String && !unmarshals(t.Elem())
	}
	return false
}

// unmarshals reports whether encoding/json would let t decode itself.
func unmarshals(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

// plainName reports whether a tag's name is letters, digits, '_' and '-'
// only: encoding/json ignores some other names, a case left to it.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
