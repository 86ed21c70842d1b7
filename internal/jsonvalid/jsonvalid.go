// Package jsonvalid reports whether bytes are one JSON text, as
// encoding/json's Valid does, answer for answer, without its scanner:
// Valid's state machine calls a function per byte, which made checking a
// run's trigger, inputs, request and response before storing them cost more
// than the statements that store them. Like encoding/json, it checks the
// grammar of RFC 8259 and nesting up to 10,000 levels, and lets any byte at
// or above 0x20 stand in a string (it does not check UTF-8).
package jsonvalid

// maxDepth is encoding/json's limit on nesting: a text nested deeper is not
// valid to it.
const maxDepth = 10000

// Valid reports whether data is one JSON value, with nothing but whitespace
// around it; it answers what encoding/json.Valid answers.
func Valid(data []byte) bool {
	v := validator{s: data}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(v.s)
}

// Value reads the JSON value that starts at data[i] and returns the index
// just past it, or false when no valid value starts there. What follows
// the value is not read.
func Value(data []byte, i int) (int, bool) {
	v := validator{s: data, i: i}
	if !v.value(0) {
		return 0, false
	}
	return v.i, true
}

// validator walks one text for Valid.
type validator struct {
	s []byte
	i int
}

// space skips JSON whitespace.
func (v *validator) space() {
	for v.i < len(v.s) {
		switch v.s[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

// value reads one value at nesting depth.
func (v *validator) value(depth int) bool {
	if v.i >= len(v.s) {
		return false
	}
	switch c := v.s[v.i]; c {
	case '{':
		return v.object(depth + 1)
	case '[':
		return v.array(depth + 1)
	case '"':
		return v.str()
	case 't':
		return v.literal("true")
	case 'f':
		return v.literal("false")
	case 'n':
		return v.literal("null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return v.number()
		}
		return false
	}
}

// literal reads word, which starts at v.i.
func (v *validator) literal(word string) bool {
	if len(v.s)-v.i < len(word) || string(v.s[v.i:v.i+len(word)]) != word {
		return false
	}
	v.i += len(word)
	return true
}

// object reads an object; v.i is at its '{'.
func (v *validator) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	v.i++
	v.space()
	if v.i < len(v.s) && v.s[v.i] == '}' {
		v.i++
		return true
	}
	for {
		if v.i >= len(v.s) || v.s[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.s) || v.s[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.s) {
			return false
		}
		switch v.s[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array; v.i is at its '['.
func (v *validator) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	v.i++
	v.space()
	if v.i < len(v.s) && v.s[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.s) {
			return false
		}
		switch v.s[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string; v.i is at its opening quote.
func (v *validator) str() bool {
	v.i++
	for v.i < len(v.s) {
		c := v.s[v.i]
		switch {
		case c == '"':
			v.i++
			return true
		case c == '\\':
			if v.i+1 >= len(v.s) {
				return false
			}
			switch v.s[v.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i += 2
			case 'u':
				if len(v.s)-v.i < 6 {
					return false
				}
				for _, h := range v.s[v.i+2 : v.i+6] {
					if !isHex(h) {
						return false
					}
				}
				v.i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			v.i++
		}
	}
	return false
}

// number reads a number; v.i is at its first byte, a '-' or a digit.
func (v *validator) number() bool {
	if v.s[v.i] == '-' {
		v.i++
	}
	switch {
	case v.i >= len(v.s):
		return false
	case v.s[v.i] == '0':
		v.i++
	case '1' <= v.s[v.i] && v.s[v.i] <= '9':
		v.digits()
	default:
		return false
	}
	if v.i < len(v.s) && v.s[v.i] == '.' {
		v.i++
		if !v.digits() {
			return false
		}
	}
	if v.i < len(v.s) && (v.s[v.i] == 'e' || v.s[v.i] == 'E') {
		v.i++
		if v.i < len(v.s) && (v.s[v.i] == '+' || v.s[v.i] == '-') {
			v.i++
		}
		if !v.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more decimal digits and reports whether there was
// one.
func (v *validator) digits() bool {
	start := v.i
	for v.i < len(v.s) && '0' <= v.s[v.i] && v.s[v.i] <= '9' {
		v.i++
	}
	return v.i > start
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
