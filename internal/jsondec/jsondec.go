// Package jsondec decodes the JSON texts Herald receives most (webhook and
// API bodies, a step's input in a plugin) into plain values in one pass,
// without encoding/json's reflection and its separate passes to validate
// the text. It takes only the texts whose value it is sure of, and gives
// for them exactly what encoding/json gives; for every other text it
// reports false, having decided nothing, and its callers take
// encoding/json's path, so their values and errors for those texts stay
// encoding/json's. The host (internal/engine) and the SDK share it.
package jsondec

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// Numbers says what a JSON number decodes to.
type Numbers int

const (
	// Plain numbers are an int64 when the text is an integer an int64
	// holds, a float64 otherwise; a number a float64 cannot hold
	// (an infinity) is not taken.
	Plain Numbers = iota
	// JSONNumbers are json.Number, as a json.Decoder with UseNumber gives
	// them.
	JSONNumbers
)

// Decode decodes data, one JSON text, and reports whether it took it. It
// does not take: an escape, a control character or invalid UTF-8 in a
// string; a number Plain cannot hold; nesting of arrays and objects deeper
// than maxDepth; blank text; anything that is not one well-formed JSON
// value with nothing but whitespace around it. A repeated key holds its
// last value, as encoding/json decodes it. The strings (and json.Numbers)
// of the value share one copy of data: one allocation for all of them.
func Decode(data []byte, numbers Numbers, maxDepth int) (any, bool) {
	d := decoder{s: data, text: string(data), numbers: numbers, maxDepth: maxDepth}
	d.space()
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	d.space()
	return v, d.i == len(d.s)
}

// decoder reads one JSON text for Decode.
type decoder struct {
	s []byte
	i int
	// text is s as a string, which the decoded strings share.
	text     string
	numbers  Numbers
	maxDepth int
}

// space skips JSON whitespace.
func (d *decoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// at reports whether the next byte is c.
func (d *decoder) at(c byte) bool { return d.i < len(d.s) && d.s[d.i] == c }

// value reads any JSON value; depth is the number of arrays and objects
// it is inside.
func (d *decoder) value(depth int) (any, bool) {
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '"':
		return d.str()
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return nil, false
}

// object reads an object at depth; the next byte is its '{'.
func (d *decoder) object(depth int) (map[string]any, bool) {
	if depth > d.maxDepth {
		return nil, false
	}
	d.i++
	m := make(map[string]any)
	d.space()
	if d.at('}') {
		d.i++
		return m, true
	}
	for {
		if !d.at('"') {
			return nil, false
		}
		key, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if !d.at(':') {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[key] = v
		d.space()
		switch {
		case d.at(','):
			d.i++
			d.space()
		case d.at('}'):
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

// array reads an array at depth; the next byte is its '['.
func (d *decoder) array(depth int) ([]any, bool) {
	if depth > d.maxDepth {
		return nil, false
	}
	d.i++
	d.space()
	if d.at(']') {
		d.i++
		return make([]any, 0), true
	}
	// Room for the usual short list from the start: appending to an
	// empty one would make it again at 1, 2 and 4 elements.
	list := make([]any, 0, 4)
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		list = append(list, v)
		d.space()
		switch {
		case d.at(','):
			d.i++
			d.space()
		case d.at(']'):
			d.i++
			return list, true
		default:
			return nil, false
		}
	}
}

// literal reads word, the next bytes.
func (d *decoder) literal(word string) bool {
	if len(d.s)-d.i < len(word) || string(d.s[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// str reads a string without escapes or control characters, of valid
// UTF-8; the next byte is its opening quote.
func (d *decoder) str() (string, bool) {
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(d.s[start:j]) {
				return "", false
			}
			d.i = j + 1
			return d.text[start:j], true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number reads a number of JSON's grammar (RFC 8259 §6) as d.numbers
// says; see Plain and JSONNumbers.
func (d *decoder) number() (any, bool) {
	s, i := d.s, d.i
	start := i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	integer := true
	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return nil, false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return nil, false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	d.i = i
	if d.numbers == JSONNumbers {
		return json.Number(d.text[start:i]), true
	}
	// The text is only read here: strconv keeps no reference to it.
	lit := s[start:i]
	if integer {
		if n, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
			return n, true
		}
	}
	// The text is well-formed, so ParseFloat's only error is a range
	// error: an infinity is not taken, and a number that underflows is
	// the zero or subnormal encoding/json keeps too.
	f, _ := strconv.ParseFloat(string(lit), 64)
	if math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}
