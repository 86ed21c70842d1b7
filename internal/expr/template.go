package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/common/types"
)

// compiledTemplate is a compiled string that may hold {{ CEL }} expressions. A
// string that is exactly one {{ ... }} renders to the expression's typed
// value; any other string renders to text with each result stringified into
// it. A literal {{ is written {{ "{{" }}.
type compiledTemplate struct {
	src string
	// parts alternate between literal text and expressions; literal
	// expressions such as the {{ "{{" }} escape are folded into text.
	parts []part
	// single is set when src is exactly one expression.
	single bool
	// size estimates the rendered length, to size the buffer once.
	size int
}

type part struct {
	text string
	prg  *program
}

// span is one {{ ... }} found in a template: the offsets of the opening
// braces and just past the closing ones.
type span struct {
	start, end int
}

// HasTemplate reports whether s contains a {{ that opens a template
// expression. Strings without one are constants.
func HasTemplate(s string) bool {
	return strings.Contains(s, "{{")
}

// scan finds the {{ ... }} expressions of s. A }} inside a CEL string
// literal or closing a nested map literal does not end an expression.
func scan(s string) ([]span, error) {
	var spans []span
	for i := 0; i < len(s); {
		open := strings.Index(s[i:], "{{")
		if open < 0 {
			break
		}
		start := i + open
		end, err := closing(s, start+2)
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{start: start, end: end})
		i = end
	}
	return spans, nil
}

// closing returns the offset just past the }} that closes the expression
// starting at i.
func closing(s string, i int) (int, error) {
	depth := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '}' && depth == 0 && i+1 < len(s) && s[i+1] == '}':
			return i + 2, nil
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == '"' || c == '\'':
			end, err := skipString(s, i)
			if err != nil {
				return 0, err
			}
			i = end
			continue
		}
		i++
	}
	return 0, errors.New("unclosed {{: the expression has no closing }}")
}

// skipString returns the offset just past the CEL string literal whose
// opening quote is at s[i], handling triple quotes, escapes and raw strings.
func skipString(s string, i int) (int, error) {
	q := s[i]
	raw := i > 0 && (s[i-1] == 'r' || s[i-1] == 'R') && (i < 2 || !isIdent(s[i-2]) || strings.ContainsRune("bB", rune(s[i-2])))
	delim := string(q)
	if strings.HasPrefix(s[i:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	for j := i + len(delim); j < len(s); j++ {
		if s[j] == '\\' && !raw {
			j++
			continue
		}
		if strings.HasPrefix(s[j:], delim) {
			return j + len(delim), nil
		}
	}
	return 0, errors.New("unterminated string literal in {{ }} expression")
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// template compiles src, which holds at least one {{.
func (c *Compiler) template(src string, ctx Context) (*compiledTemplate, []string) {
	spans, err := scan(src)
	if err != nil {
		return nil, []string{err.Error()}
	}
	t := &compiledTemplate{src: src}
	t.single = len(spans) == 1 && spans[0].start == 0 && spans[0].end == len(src)
	var problems []string
	text := strings.Builder{}
	flush := func() {
		if text.Len() > 0 {
			t.parts = append(t.parts, part{text: text.String()})
			t.size += text.Len()
			text.Reset()
		}
	}
	last := 0
	for _, sp := range spans {
		text.WriteString(src[last:sp.start])
		last = sp.end
		p := c.compile(src[sp.start+2 : sp.end-2])
		if p.problem != "" {
			problems = append(problems, p.problem)
			continue
		}
		if msgs := ctx.check(p.refs); len(msgs) > 0 {
			problems = append(problems, msgs...)
			continue
		}
		if p.constant && !t.single {
			b, err := appendText(nil, p.value)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			text.Write(b)
			continue
		}
		flush()
		t.parts = append(t.parts, part{prg: p})
		t.size += 16
	}
	text.WriteString(src[last:])
	flush()
	if len(problems) > 0 {
		return nil, problems
	}
	return t, nil
}

// static reports the template's value when it does not depend on the scope.
func (t *compiledTemplate) static() (any, bool) {
	switch {
	case t.single && t.parts[0].prg.constant:
		v, err := toPlain(t.parts[0].prg.value)
		return v, err == nil
	case len(t.parts) == 0:
		return "", true
	case len(t.parts) == 1 && t.parts[0].prg == nil:
		return t.parts[0].text, true
	}
	return nil, false
}

// render evaluates the template in s: the typed value of a single
// expression, or the text with every expression's result stringified. It
// also returns the rendered value's size, which may not pass MaxValueSize.
func (t *compiledTemplate) render(ctx context.Context, s *Scope) (any, int, error) {
	if t.single {
		p := t.parts[0].prg
		v, err := p.eval(ctx, s)
		if err != nil {
			return nil, 0, t.fail(p, err)
		}
		n := sizeOf(v, MaxValueSize)
		if n > MaxValueSize {
			return nil, 0, t.tooLarge()
		}
		out, err := toPlain(v)
		if err != nil {
			return nil, 0, t.fail(p, err)
		}
		return out, n, nil
	}
	out, err := t.text(ctx, s)
	return out, len(out) + 2, err
}

func (t *compiledTemplate) text(ctx context.Context, s *Scope) (string, error) {
	if len(t.parts) == 1 && t.parts[0].prg == nil {
		return t.parts[0].text, nil
	}
	buf := make([]byte, 0, t.size)
	for _, p := range t.parts {
		if p.prg == nil {
			buf = append(buf, p.text...)
			continue
		}
		v, err := p.prg.eval(ctx, s)
		if err != nil {
			return "", t.fail(p.prg, err)
		}
		// Measure before appending: a list is written as JSON, which may be
		// far larger than the list itself when it repeats one value.
		room := MaxValueSize - len(buf)
		if str, ok := v.(types.String); ok && len(str) > room || !ok && sizeOf(v, room) > room {
			return "", t.tooLarge()
		}
		buf, err = appendText(buf, v)
		if err != nil {
			return "", t.fail(p.prg, err)
		}
	}
	if len(buf) > MaxValueSize {
		return "", t.tooLarge()
	}
	return string(buf), nil
}

func (t *compiledTemplate) tooLarge() error {
	return &Error{Source: t.src, Message: tooLarge("rendered value", MaxValueSize)}
}

func (t *compiledTemplate) fail(p *program, err error) error {
	return &Error{Source: t.src, Message: fmt.Sprintf("evaluating {{ %s }}: %v", strings.TrimSpace(p.src), err)}
}

// outKind is the checked type of a single-expression template, or string.
func (t *compiledTemplate) outKind() (types.Kind, string) {
	if !t.single {
		return types.StringKind, "string"
	}
	return t.parts[0].prg.outKind(), t.parts[0].prg.outName()
}

func (t *compiledTemplate) secrets(into []string) []string {
	for _, p := range t.parts {
		if p.prg != nil {
			into = secretNames(p.prg.refs, into)
		}
	}
	return into
}
