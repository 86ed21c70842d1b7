package sdk

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// marshalOutput encodes an action's output exactly as json.Marshal does. The
// shapes providers return (maps of strings, numbers, booleans, lists and
// nested maps; structs of plain fields) are written directly, without
// json.Marshal's reflection over every value, its pooled buffer and the copy
// it returns; anything else (a pointer, a type with its own MarshalJSON, a
// value json.Marshal refuses, nesting deeper than maxDirectDepth) goes to
// json.Marshal whole, so its bytes and its errors are json.Marshal's own.
func marshalOutput(v any) ([]byte, error) {
	if b, ok := appendDirect(make([]byte, 0, 128), v, 0); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// maxDirectDepth bounds the nesting the direct encoder follows: past it (a
// cyclic map, say) json.Marshal takes the whole value and reports the
// cycle.
const maxDirectDepth = 32

// appendDirect appends v's JSON encoding to dst, as json.Marshal would give
// it, or reports false for a value it leaves to json.Marshal.
func appendDirect(dst []byte, v any, depth int) ([]byte, bool) {
	if depth > maxDirectDepth {
		return dst, false
	}
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return appendJSONString(dst, v), true
	case bool:
		return strconv.AppendBool(dst, v), true
	case json.Number:
		if v == "" {
			return append(dst, '0'), true
		}
		if !validNumber(string(v)) {
			return dst, false
		}
		return append(dst, v...), true
	case float64:
		return appendFloat(dst, v, 64)
	case float32:
		return appendFloat(dst, float64(v), 32)
	case int:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int64:
		return strconv.AppendInt(dst, v, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case uint64:
		return strconv.AppendUint(dst, v, 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), true
		}
		return appendMap(dst, v, depth)
	case map[string]string:
		if v == nil {
			return append(dst, "null"...), true
		}
		keys := sortedKeys(v)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, v[k])
		}
		return append(dst, '}'), true
	case []any:
		return appendList(dst, v, depth)
	case []string:
		if v == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, s := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']'), true
	case []map[string]any:
		return appendList(dst, v, depth)
	}
	return appendStruct(dst, v)
}

// appendMap appends m with its keys sorted, as json.Marshal does.
func appendMap(dst []byte, m map[string]any, depth int) ([]byte, bool) {
	keys := sortedKeys(m)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		var ok bool
		if dst, ok = appendDirect(dst, m[k], depth+1); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// appendList appends a list of values the direct encoder may take, null
// when it is nil.
func appendList[T any](dst []byte, list []T, depth int) ([]byte, bool) {
	if list == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '[')
	for i, item := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendDirect(dst, any(item), depth+1); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// sortedKeys returns m's keys in json.Marshal's order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendFloat appends f as json.Marshal encodes a float of the given bits:
// the shortest representation, in exponent form below 1e-6 and from 1e21,
// with a one-digit negative exponent not padded. NaN and infinities, which
// json.Marshal refuses, are left to it.
func appendFloat(dst []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 becomes e-9.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// outputField is one field a struct plan encodes.
type outputField struct {
	// key is the field's name, quoted, with its colon: `"id":`.
	key       string
	index     int
	kind      reflect.Kind
	omitEmpty bool
}

// outputPlan is how the direct encoder writes one struct type; a nil plan
// leaves the type to json.Marshal.
type outputPlan struct {
	fields []outputField
}

// outputPlans caches an *outputPlan per struct type.
var outputPlans sync.Map

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// appendStruct appends v, a struct of plain fields, as json.Marshal would.
func appendStruct(dst []byte, v any) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return dst, false
	}
	plan := outputPlanFor(rv.Type())
	if plan == nil {
		return dst, false
	}
	dst = append(dst, '{')
	first := true
	for _, f := range plan.fields {
		fv := rv.Field(f.index)
		if f.omitEmpty && emptyField(fv) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.key...)
		switch f.kind {
		case reflect.String:
			dst = appendJSONString(dst, fv.String())
		case reflect.Bool:
			dst = strconv.AppendBool(dst, fv.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = strconv.AppendInt(dst, fv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			dst = strconv.AppendUint(dst, fv.Uint(), 10)
		case reflect.Float32, reflect.Float64:
			var ok bool
			if dst, ok = appendFloat(dst, fv.Float(), fv.Type().Bits()); !ok {
				return dst, false
			}
		}
	}
	return append(dst, '}'), true
}

// emptyField reports whether omitempty leaves out fv, a field of a kind a
// plan encodes: as json.Marshal decides it, so -0.0 is empty too.
func emptyField(fv reflect.Value) bool {
	switch fv.Kind() {
	case reflect.String:
		return fv.Len() == 0
	case reflect.Bool:
		return !fv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fv.Uint() == 0
	default:
		return fv.Float() == 0
	}
}

// outputPlanFor returns the plan of struct type t, nil when json.Marshal
// must encode it: a type or field type with its own marshalling method, an
// embedded field, a field of another kind, a tag option other than
// omitempty, a name that needs escaping or two fields of one name.
func outputPlanFor(t reflect.Type) *outputPlan {
	if p, ok := outputPlans.Load(t); ok {
		return p.(*outputPlan)
	}
	p := newOutputPlan(t)
	outputPlans.Store(t, p)
	return p
}

func newOutputPlan(t reflect.Type) *outputPlan {
	if hasMarshaler(t) {
		return nil
	}
	p := &outputPlan{}
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		omitEmpty := false
		switch opts {
		case "":
		case "omitempty":
			omitEmpty = true
		default:
			return nil
		}
		if name == "" {
			name = sf.Name
		}
		if !plainName(name) || seen[name] {
			return nil
		}
		seen[name] = true
		switch sf.Type.Kind() {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
		default:
			return nil
		}
		if hasMarshaler(sf.Type) {
			return nil
		}
		p.fields = append(p.fields, outputField{key: `"` + name + `":`, index: i, kind: sf.Type.Kind(), omitEmpty: omitEmpty})
	}
	return p
}

// hasMarshaler reports whether json.Marshal would call a method of t (or of
// *t) to encode it.
func hasMarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType)
}
