// Package jsonenc encodes the plain values decoded JSON is made of (nil,
// bool, string, numbers, json.Number, []any, map[string]any and a few more)
// as encoding/json's Marshal encodes them, byte for byte, without
// reflection: Marshal sorts a map's keys through reflect, which allocates
// for every key. A value of any other type is left to encoding/json, or to
// the caller's encoder of its own leaf values (AppendValueFunc). It is the
// one such encoder of both the host (trigger data, `with`) and the SDK
// (action outputs).
package jsonenc

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxDepth bounds the nesting AppendValue follows; deeper values (a cycle
// among them) are left to encoding/json, which reports cycles.
const maxDepth = 1000

// Marshal returns json.Marshal(v): AppendValue's encoding when it encodes
// v, encoding/json's otherwise.
func Marshal(v any) ([]byte, error) {
	buf := Buffer()
	defer Release(buf)
	b, ok := AppendValue(*buf, v)
	if !ok {
		return json.Marshal(v)
	}
	*buf = b
	return Copy(b), nil
}

// buffers hold the encodings Marshal makes before it copies them out, as
// encoding/json's do, so that a result costs one allocation of its size.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooled is the largest buffer returned to buffers.
const maxPooled = 64 << 10

// Buffer returns a buffer from the pool Marshal uses, empty, for an
// encoding built with the Append functions; Release returns it.
func Buffer() *[]byte {
	b := buffers.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// Release returns b, which Buffer gave, to the pool; b must not be used
// afterwards.
func Release(b *[]byte) {
	if cap(*b) <= maxPooled {
		buffers.Put(b)
	}
}

// Copy returns a copy of b of its length.
func Copy(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// AppendValue appends to b the encoding json.Marshal gives v and reports
// true, or reports false when v holds what it does not encode: a type
// other than nil, bool, string, int, int32, int64, uint, uint32, uint64,
// float32, float64, json.Number, time.Time, []any, []string,
// []map[string]any, map[string]any and map[string]string, a NaN or an
// infinity, a json.Number that is not a JSON number, or more than maxDepth
// levels of nesting. What it appended is then garbage: callers use the b
// they passed.
func AppendValue(b []byte, v any) ([]byte, bool) {
	return appendValue(b, v, 0, nil)
}

// AppendValueFunc is AppendValue with other encoding, at any depth, the
// values of the types AppendValue does not know: other appends v's
// encoding as json.Marshal gives it to b and reports true, or reports
// false to leave the whole value to the caller. other encodes a leaf (a
// struct of plain fields, say): it does not call back into this package
// for values nested in v, which would escape the bound on nesting.
func AppendValueFunc(b []byte, v any, other func(b []byte, v any) ([]byte, bool)) ([]byte, bool) {
	return appendValue(b, v, 0, other)
}

func appendValue(b []byte, v any, depth int, other func([]byte, any) ([]byte, bool)) ([]byte, bool) {
	if depth > maxDepth {
		return b, false
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		if x {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case string:
		return AppendString(b, x), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case float64:
		return AppendFloat(b, x)
	case float32:
		return AppendFloat32(b, x)
	case json.Number:
		return AppendNumber(b, x)
	case time.Time:
		return AppendTime(b, x)
	case map[string]any:
		return appendMap(b, x, depth, other)
	case map[string]string:
		return AppendStringMap(b, x), true
	case []any:
		return appendList(b, x, depth, other)
	case []string:
		return appendStrings(b, x), true
	case []map[string]any:
		return appendList(b, x, depth, other)
	}
	if other != nil {
		return other(b, v)
	}
	return b, false
}

// sortedKeys returns m's keys in the order encoding/json writes them: by
// their bytes. Maps of up to 16 keys are sorted in buf.
func sortedKeys[V any](m map[string]V, buf *[16]string) []string {
	keys := buf[:0]
	if len(m) > len(buf) {
		keys = make([]string, 0, len(m))
	}
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendMap appends m's encoding, keys sorted: null for a nil map.
func appendMap(b []byte, m map[string]any, depth int, other func([]byte, any) ([]byte, bool)) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var buf [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(m, &buf) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendValue(b, m[k], depth+1, other); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendList appends list's encoding, elements by appendValue: null for a
// nil list. E is any or a map type, which becomes an any without an
// allocation.
func appendList[E any](b []byte, list []E, depth int, other func([]byte, any) ([]byte, bool)) ([]byte, bool) {
	if list == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendValue(b, e, depth+1, other); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// appendStrings appends list's encoding: null for a nil list. (Its own
// loop: a string passed as an any to appendValue, which may hand it to
// other, would be allocated.)
func appendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// AppendStringMap appends m's encoding as json.Marshal gives it: null for
// a nil map. (appendMap for maps of strings: a generic appendMap would
// allocate its key buffer, and a value per string.)
func AppendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var buf [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(m, &buf) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = AppendString(b, m[k])
	}
	return append(b, '}')
}

// AppendFloat appends f as encoding/json writes a float64 (as ES6 formats
// a number) and reports true, or reports false for NaN and the
// infinities, which encoding/json refuses.
func AppendFloat(b []byte, f float64) ([]byte, bool) {
	return appendFloat(b, f, 64)
}

// AppendFloat32 appends f as encoding/json writes a float32 (its shortest
// 32-bit representation) and reports true, or reports false for NaN and
// the infinities.
func AppendFloat32(b []byte, f float32) ([]byte, bool) {
	return appendFloat(b, float64(f), 32)
}

// appendFloat writes f of the given bits as encoding/json's float encoder
// does: the shortest representation, in exponent form below 1e-6 and from
// 1e21 (compared at the float's own precision), with a two-digit negative
// exponent that starts with 0 (e-09) written with one digit (e-9).
func appendFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// AppendNumber appends n as encoding/json writes a json.Number, as it is
// (0 when empty), and reports true, or reports false when n is not a JSON
// number, which encoding/json refuses.
func AppendNumber(b []byte, n json.Number) ([]byte, bool) {
	if n == "" {
		return append(b, '0'), true
	}
	if !ValidNumber(string(n)) {
		return b, false
	}
	return append(b, n...), true
}

// ValidNumber reports whether s is a JSON number, which json.Marshal checks
// a json.Number for (strconv accepts more, such as "+1" and "01").
func ValidNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = skipDigits(s[1:])
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		s = skipDigits(s[2:])
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		if !isDigit(s[0]) {
			return false
		}
		s = skipDigits(s)
	}
	return s == ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(s string) string {
	for s != "" && isDigit(s[0]) {
		s = s[1:]
	}
	return s
}

// AppendTime appends t as its MarshalJSON writes it and reports true, or
// reports false when MarshalJSON fails (a year outside 0–9999).
func AppendTime(b []byte, t time.Time) ([]byte, bool) {
	if t.Location() == time.UTC && t.Year() >= 0 && t.Year() <= 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), true
	}
	// Other zones are rare here; their rules (offsets of whole minutes
	// within a day) stay MarshalJSON's.
	enc, err := t.MarshalJSON()
	if err != nil {
		return b, false
	}
	return append(b, enc...), true
}

const hex = "0123456789abcdef"

// safe holds the ASCII bytes a string's encoding keeps as they are: all
// but the control characters, the quote, the backslash and <, > and &.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendString appends s as encoding/json writes a string: quoted, with
// <, > and & escaped for HTML, U+2028 and U+2029 escaped, and each byte of
// invalid UTF-8 written as \ufffd.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
