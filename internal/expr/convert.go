package expr

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// toPlain converts a CEL result to a plain Go value: string, bool, int64,
// float64, nil, []any or map[string]any. Timestamps become RFC 3339 strings,
// durations Go duration strings, and bytes a string (base64 when they are
// not valid UTF-8).
func toPlain(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.String:
		return string(x), nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Double:
		return float64(x), nil
	case types.Uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), nil
		}
		return float64(x), nil
	case types.Null:
		return nil, nil
	case types.Bytes:
		return bytesString(x), nil
	case types.Timestamp:
		return x.Time.Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.Duration.String(), nil
	case *types.Err:
		return nil, x
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return toPlain(x.GetValue())
	}
	switch native := v.Value().(type) {
	case map[string]any, []any, map[string]string, []string:
		return plainNative(native)
	}
	if l, ok := v.(traits.Lister); ok {
		n := int(l.Size().(types.Int))
		out := make([]any, 0, n)
		for it := l.Iterator(); it.HasNext() == types.True; {
			el, err := toPlain(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, el)
		}
		return out, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := make(map[string]any, int(m.Size().(types.Int)))
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			val, err := toPlain(m.Get(k))
			if err != nil {
				return nil, err
			}
			key, err := mapKey(k)
			if err != nil {
				return nil, err
			}
			out[key] = val
		}
		return out, nil
	}
	if types.IsUnknown(v) {
		return nil, fmt.Errorf("result depends on unknown values")
	}
	return nil, fmt.Errorf("cannot use a value of type %s", v.Type().TypeName())
}

func bytesString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func mapKey(k ref.Val) (string, error) {
	switch x := k.(type) {
	case types.String:
		return string(x), nil
	case types.Int, types.Uint, types.Bool:
		return fmt.Sprint(x.Value()), nil
	case types.Double:
		return formatFloat(float64(x)), nil
	}
	return "", fmt.Errorf("cannot use a map key of type %s", k.Type().TypeName())
}

// plainNative returns v as a plain Go value, reusing v itself when it is
// already plain and copying only what is not (such as time.Time in trigger).
func plainNative(v any) (any, error) {
	p, _, err := plain(v)
	return p, err
}

// plain converts v and reports whether the result differs from v.
func plain(v any) (any, bool, error) {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x, false, nil
	case int:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case float32:
		return float64(x), true, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, false, fmt.Errorf("invalid number %q", string(x))
		}
		return f, true, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), true, nil
	case time.Duration:
		return x.String(), true, nil
	case map[string]any:
		var out map[string]any
		for k, el := range x {
			p, changed, err := plain(el)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make(map[string]any, len(x))
				for k2, el2 := range x {
					out[k2] = el2
				}
			}
			if out != nil {
				out[k] = p
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case []any:
		var out []any
		for i, el := range x {
			p, changed, err := plain(el)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make([]any, len(x))
				copy(out, x)
			}
			if out != nil {
				out[i] = p
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = el
		}
		return out, true, nil
	case []string:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = el
		}
		return out, true, nil
	case ref.Val:
		p, err := toPlain(x)
		return p, true, err
	}
	p, err := toPlain(types.DefaultTypeAdapter.NativeToValue(v))
	return p, true, err
}

// appendText appends v as template text: strings as they are, numbers in
// decimal, null as nothing, timestamps in RFC 3339 and lists and maps as
// JSON.
func appendText(b []byte, v ref.Val) ([]byte, error) {
	switch x := v.(type) {
	case types.String:
		return append(b, x...), nil
	case types.Int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case types.Uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case types.Double:
		return append(b, formatFloat(float64(x))...), nil
	case types.Bool:
		return strconv.AppendBool(b, bool(x)), nil
	case types.Null:
		return b, nil
	}
	p, err := toPlain(v)
	if err != nil {
		return nil, err
	}
	switch x := p.(type) {
	case nil:
		return b, nil
	case string:
		return append(b, x...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return append(b, formatFloat(x)...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append(b, js...), nil
}

// formatFloat writes f without an exponent in the range JSON writers use,
// so a phone number decoded from JSON as 14155550123 stays 14155550123.
func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
