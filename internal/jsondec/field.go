package jsondec

import (
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsonvalid"
)

// Field returns the member name of data, a JSON object, as decoding data
// into a map[string]json.RawMessage with encoding/json gives it: the text
// of the member's value without the whitespace around it, the last one
// when the name repeats, and found unset when data holds no such member or
// is another JSON value. It reads the members' values without decoding
// them and allocates nothing. It does not take (ok unset) a text that is
// not one valid JSON value, nor an object with a key that holds an escape
// or invalid UTF-8, whose decoded key encoding/json's own path decides.
func Field(data []byte, name string) (raw []byte, found, ok bool) {
	if !jsonvalid.Valid(data) {
		return nil, false, false
	}
	// data is valid from here on: the skips below check nothing.
	d := decoder{s: data}
	d.space()
	if d.s[d.i] != '{' {
		return nil, false, true
	}
	d.i++
	for {
		d.space()
		if d.s[d.i] == '}' {
			return raw, found, true
		}
		start := d.i + 1
		if d.skipString() {
			return nil, false, false
		}
		key := data[start : d.i-1]
		if !utf8.Valid(key) {
			return nil, false, false
		}
		d.space()
		d.i++ // the colon
		d.space()
		begin := d.i
		d.skipValue()
		if string(key) == name {
			raw, found = data[begin:d.i:d.i], true
		}
		d.space()
		if d.s[d.i] == ',' {
			d.i++
		}
	}
}

// skipString moves past the string of a valid text that starts at the
// current byte, its opening quote, and reports whether it holds an escape.
func (d *decoder) skipString() (escaped bool) {
	d.i++
	for {
		switch d.s[d.i] {
		case '"':
			d.i++
			return escaped
		case '\\':
			escaped = true
			d.i += 2
		default:
			d.i++
		}
	}
}

// skipValue moves past the value of a valid text that starts at the
// current byte.
func (d *decoder) skipValue() {
	switch d.s[d.i] {
	case '"':
		d.skipString()
	case '{', '[':
		depth := 0
		for {
			switch d.s[d.i] {
			case '"':
				d.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.i++
			if depth == 0 {
				return
			}
		}
	default:
		// A number or a literal: it ends where a delimiter starts.
		for d.i < len(d.s) {
			switch d.s[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			d.i++
		}
	}
}
