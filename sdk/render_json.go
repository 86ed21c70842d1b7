package sdk

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/heraldhq/herald/internal/jsonenc"
)

// marshalOutput encodes an action's output (or a request body HTTP.Do
// sends) exactly as json.Marshal does. The
// shapes providers return (maps of strings, numbers, booleans, lists and
// nested maps, which jsonenc writes; structs of plain fields, which
// appendStruct writes) are written directly, without json.Marshal's
// reflection over every value; anything else (a pointer, a type with its own
// MarshalJSON, a value json.Marshal refuses, a cycle) goes to json.Marshal
// whole, so its bytes and its errors are json.Marshal's own.
func marshalOutput(v any) ([]byte, error) {
	buf := jsonenc.Buffer()
	defer jsonenc.Release(buf)
	b, ok := appendOutput(*buf, v)
	if !ok {
		return json.Marshal(v)
	}
	*buf = b
	return jsonenc.Copy(b), nil
}

// appendOutput appends v's JSON encoding to dst, as json.Marshal would give
// it, or reports false for a value it leaves to json.Marshal.
func appendOutput(dst []byte, v any) ([]byte, bool) {
	return jsonenc.AppendValueFunc(dst, v, appendStruct)
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

// appendStruct appends v, a struct of plain fields (strings, booleans,
// numbers, lists of strings), as json.Marshal would.
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
			dst = jsonenc.AppendString(dst, fv.String())
		case reflect.Bool:
			dst = strconv.AppendBool(dst, fv.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = strconv.AppendInt(dst, fv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			dst = strconv.AppendUint(dst, fv.Uint(), 10)
		case reflect.Float32:
			var ok bool
			if dst, ok = jsonenc.AppendFloat32(dst, float32(fv.Float())); !ok {
				return dst, false
			}
		case reflect.Float64:
			var ok bool
			if dst, ok = jsonenc.AppendFloat(dst, fv.Float()); !ok {
				return dst, false
			}
		case reflect.Slice:
			dst = appendStringList(dst, fv)
		}
	}
	return append(dst, '}'), true
}

// appendStringList appends fv, a list of strings, as json.Marshal does: null
// when it is nil.
func appendStringList(dst []byte, fv reflect.Value) []byte {
	if fv.IsNil() {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range fv.Len() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, fv.Index(i).String())
	}
	return append(dst, ']')
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
	case reflect.Slice:
		return fv.Len() == 0
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
		case reflect.Slice:
			// A list of strings whose element type has no marshalling
			// method of its own.
			if sf.Type.Elem().Kind() != reflect.String || hasMarshaler(sf.Type.Elem()) {
				return nil
			}
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
