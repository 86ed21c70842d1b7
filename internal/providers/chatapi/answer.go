package chatapi

import (
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsonvalid"
	"github.com/heraldhq/herald/sdk"
)

// sendAnswer is what a send reads of Chat API's answer to /sendMessage and
// /sendFile.
type sendAnswer struct {
	Error   any    `json:"error"`
	Sent    *bool  `json:"sent"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

// decode reads resp's body into a and returns the error the answer reports,
// exactly as decodeAnswer does (encoding/json with UseNumber, then the
// error member). The answer Chat API documents (one object of plain
// strings and booleans) is read by parse, without reflection; anything
// parse is not sure to read as encoding/json would goes to decodeAnswer.
// After parse, a.Error is left nil: only whether it reports an error counts.
func (a *sendAnswer) decode(resp *sdk.Response) error {
	var p answerParser
	if p.parse(resp.Body, a) {
		if p.reports {
			return reported(resp, resp.Body)
		}
		return nil
	}
	*a = sendAnswer{}
	return decodeAnswer(resp, resp.Body, a, &a.Error)
}

// answerParser reads a sendAnswer from a JSON text, or gives up.
type answerParser struct {
	data []byte
	i    int
	// reports is whether the error member, when there is one, reports an
	// error (see reports).
	reports bool
}

// parse reads data into a and reports whether it did so as
// json.Decoder.Decode (with UseNumber) would have, without error: data
// starts with an object, whose keys are matched to a's fields as
// encoding/json matches them (exactly, else without regard to ASCII case;
// the last of repeated keys wins), and what follows the object is ignored
// as the Decoder ignores it. It returns false, leaving a half written, for
// anything else: a key or field string with an escape, a control character
// or invalid UTF-8, a key outside ASCII, a field of another type, a text
// that is not valid JSON.
func (p *answerParser) parse(data []byte, a *sendAnswer) bool {
	p.data, p.i = data, 0
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		return true
	}
	for {
		p.space()
		key, ok := p.plainString()
		if !ok || !isASCII(key) {
			// encoding/json folds a key's case by Unicode's rules.
			return false
		}
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		switch {
		case asciiFold(key, "sent"):
			switch {
			case p.literal("true"):
				t := true
				a.Sent = &t
			case p.literal("false"):
				f := false
				a.Sent = &f
			case p.literal("null"):
				a.Sent = nil
			default:
				return false
			}
		case asciiFold(key, "id"):
			if !p.stringField(&a.ID) {
				return false
			}
		case asciiFold(key, "message"):
			if !p.stringField(&a.Message) {
				return false
			}
		case asciiFold(key, "error"):
			start := p.i
			if !p.skip() {
				return false
			}
			v := p.data[start:p.i]
			p.reports = string(v) != "null" && string(v) != "false" && string(v) != `""`
		default:
			if !p.skip() {
				return false
			}
		}
		p.space()
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// stringField reads a string member into *s; null leaves *s as it is, as
// encoding/json does.
func (p *answerParser) stringField(s *string) bool {
	if p.literal("null") {
		return true
	}
	v, ok := p.plainString()
	if ok {
		*s = string(v)
	}
	return ok
}

// plainString reads a string without escapes whose bytes encoding/json
// would keep as they are (valid UTF-8, no control character), and returns
// its content.
func (p *answerParser) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	ascii := true
	for ; p.i < len(p.data); p.i++ {
		c := p.data[p.i]
		switch {
		case c == '"':
			s := p.data[start:p.i]
			p.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// skip reads over one JSON value, checking it as encoding/json's scanner
// would.
func (p *answerParser) skip() bool {
	end, ok := jsonvalid.Value(p.data, p.i)
	p.i = end
	return ok
}

// literal reads word (true, false or null) when it comes next.
func (p *answerParser) literal(word string) bool {
	if len(p.data)-p.i >= len(word) && string(p.data[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// byte reads c when it comes next.
func (p *answerParser) byte(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// space reads over JSON's whitespace.
func (p *answerParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiFold reports whether key, an ASCII field name from a JSON text, is
// name (lower case) but for the case of its letters.
func asciiFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}
