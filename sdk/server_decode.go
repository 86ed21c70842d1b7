package sdk

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsonenc"
)

// maxDirectDepth bounds the nesting decodeDirect follows: past it
// encoding/json's decoder takes the whole text and reports what it
// reports of deep nesting.
const maxDirectDepth = 32

// decodeDirect decodes raw, a JSON object, into what decodeObject's
// json.Decoder (with UseNumber) gives for it, without the decoder's own
// allocations and its second pass over the text; it reports false, having
// decided nothing, for any text it does not take: an escape or a control
// character in a string, invalid UTF-8, anything that is not a well-formed
// object alone (trailing text included), nesting deeper than
// maxDirectDepth. decodeObject then takes the decoder, so results and
// errors stay encoding/json's.
func decodeDirect(raw []byte) (map[string]any, bool) {
	d := directDecoder{s: raw}
	d.space()
	if !d.at('{') {
		return nil, false
	}
	m, ok := d.object(0)
	if !ok {
		return nil, false
	}
	d.space()
	return m, d.i == len(d.s)
}

// directDecoder reads one JSON text for decodeDirect.
type directDecoder struct {
	s []byte
	i int
}

func (d *directDecoder) space() {
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
func (d *directDecoder) at(c byte) bool { return d.i < len(d.s) && d.s[d.i] == c }

// object reads an object; the next byte is its '{'.
func (d *directDecoder) object(depth int) (map[string]any, bool) {
	if depth > maxDirectDepth {
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

// array reads an array; the next byte is its '['.
func (d *directDecoder) array(depth int) ([]any, bool) {
	if depth > maxDirectDepth {
		return nil, false
	}
	d.i++
	list := make([]any, 0)
	d.space()
	if d.at(']') {
		d.i++
		return list, true
	}
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

// value reads any JSON value inside an object or array at depth.
func (d *directDecoder) value(depth int) (any, bool) {
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
	case c == '-' || isDigit(c):
		start := d.i
		for d.i < len(d.s) && numberByte(d.s[d.i]) {
			d.i++
		}
		n := string(d.s[start:d.i])
		if !jsonenc.ValidNumber(n) {
			return nil, false
		}
		return json.Number(n), true
	default:
		return nil, false
	}
}

// literal reads word, the next bytes.
func (d *directDecoder) literal(word string) bool {
	if len(d.s)-d.i < len(word) || string(d.s[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// str reads a string without escapes or control characters, of valid
// UTF-8; the next byte is its opening quote.
func (d *directDecoder) str() (string, bool) {
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			seg := d.s[start:j]
			if !ascii && !utf8.Valid(seg) {
				return "", false
			}
			d.i = j + 1
			return string(seg), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// numberByte reports whether c may be part of a JSON number.
func numberByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
