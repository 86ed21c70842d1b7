package config

import "strings"

// hclFrame is one open level of an HCL file: a brace, bracket or paren, a
// quoted string or heredoc, or a template sequence ${ } / %{ } inside one.
type hclFrame struct {
	kind byte // '{', '[', '(', '"' (quoted), 'h' (heredoc), '$' (template sequence)
	// weight is what the frame adds to the depth: one for itself, one for
	// each operator since the last separator in it (the parser recurses on
	// unary and conditional operators, and evaluating a chain of binary
	// ones recurses on its length), and one for each open %{ if } or
	// %{ for } directive of a string.
	weight int
	// delim ends a heredoc.
	delim string
}

func (f *hclFrame) template() bool { return f.kind == '"' || f.kind == 'h' }

// scanHCLDepth reports where src first nests deeper than limit. It follows
// HCL's lexical rules closely enough to skip comments and to tell strings
// and heredocs from expressions, and where it is unsure it counts deeper,
// never shallower, than the parser would recurse.
func scanHCLDepth(src []byte, limit int) depthScan {
	c := newCursor(src)
	stack := []hclFrame{{kind: '{', weight: 0}} // the file's body
	depth := 0
	push := func(kind byte) bool {
		stack = append(stack, hclFrame{kind: kind, weight: 1})
		depth++
		return depth > limit
	}
	pop := func() {
		depth -= stack[len(stack)-1].weight
		stack = stack[:len(stack)-1]
	}
	// grow adds to the weight of the innermost frame.
	grow := func(n int) bool {
		top := &stack[len(stack)-1]
		top.weight += n
		depth += n
		return depth > limit
	}
	// reset forgets the operators of the innermost frame at a separator.
	reset := func() {
		top := &stack[len(stack)-1]
		base := 1
		if len(stack) == 1 {
			base = 0
		}
		depth -= top.weight - base
		top.weight = base
	}
	lineStart := true
	// last is the last byte of an expression other than a blank.
	var last byte
	for !c.done() {
		top := &stack[len(stack)-1]
		b := c.src[c.i]
		if top.template() {
			if top.kind == 'h' && lineStart && closesHeredoc(c, top.delim) {
				c.skipLine()
				pop()
				continue
			}
			lineStart = false
			switch {
			case b == '\n':
				lineStart = true
				c.next()
				if top.kind == '"' {
					// A quoted string cannot span lines; ending it here
					// scans what follows as expression, which only counts
					// deeper.
					pop()
				}
				continue
			case b == '\\' && top.kind == '"':
				c.next()
				if !c.done() && c.peek(0) != '\n' {
					c.next()
				}
				continue
			case (b == '$' || b == '%') && c.peek(1) == b && c.peek(2) == '{':
				c.skip(3) // $${ and %%{ are literal
				continue
			case b == '"' && top.kind == '"':
				c.next()
				pop()
				continue
			case (b == '$' || b == '%') && c.peek(1) == '{':
				at := *c
				directive := 0
				if b == '%' {
					directive = templateDirective(c.src[c.i+2:])
				}
				c.skip(2)
				if directive > 0 {
					if grow(1) {
						return at.at()
					}
				} else if directive < 0 && top.weight > 1 {
					top.weight--
					depth--
				}
				if push('$') {
					return at.at()
				}
				continue
			}
			c.next()
			continue
		}
		// Expression or body.
		lineStart = false
		prev := last
		if b != ' ' && b != '\t' && b != '\r' {
			last = b
		}
		switch {
		case b == '#' || (b == '/' && c.peek(1) == '/'):
			c.skipLine()
			continue
		case b == '/' && c.peek(1) == '*':
			c.skip(2)
			for !c.done() && !c.hasPrefix("*/") {
				c.next()
			}
			c.skip(2)
			continue
		case b == '\n':
			lineStart = true
			if top.kind == '{' {
				// A newline ends an attribute in a body or an item of an
				// object; inside brackets and parens it does not.
				reset()
			}
		case b == ',':
			reset()
		case b == '"':
			if push('"') {
				return c.at()
			}
		case b == '<' && c.peek(1) == '<':
			if delim, n := heredocStart(c.src[c.i:]); n > 0 {
				at := *c
				c.skip(n)
				if push('h') {
					return at.at()
				}
				stack[len(stack)-1].delim = delim
				lineStart = true
				continue
			}
			if grow(1) {
				return c.at()
			}
		case b == '{' || b == '(':
			if push(b) {
				return c.at()
			}
		case b == '[':
			// An index chain a[x][y] nests like an operator does; a
			// bracket after an operator or separator starts a tuple.
			if !strings.ContainsRune("=,[({:?+-*/%!&|<>\n", rune(prev)) && prev != 0 && grow(1) {
				return c.at()
			}
			if push(b) {
				return c.at()
			}
		case b == '}':
			if top.kind == '{' && len(stack) > 1 || top.kind == '$' {
				pop()
			}
		case b == ']':
			if top.kind == '[' {
				pop()
			}
		case b == ')':
			if top.kind == '(' {
				pop()
			}
		case b == '=' && c.peek(1) == '=':
			c.skip(2)
			if grow(1) {
				return c.at()
			}
			continue
		case b == '=' && c.peek(1) == '>':
			c.skip(2)
			continue
		case b == '+' || b == '-' || b == '*' || b == '/' || b == '%' || b == '!' || b == '&' || b == '|' || b == '<' || b == '>' || b == '?':
			if grow(1) {
				return c.at()
			}
		}
		c.next()
	}
	return depthScan{}
}

// heredocStart matches <<ID or <<-ID followed by a newline at the start of
// s, returning ID and the length of the opener including the newline.
func heredocStart(s []byte) (string, int) {
	i := 2
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && (s[i] == '_' || s[i] == '-' || isLetter(s[i]) || (i > start && s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	if i == start {
		return "", 0
	}
	delim := string(s[start:i])
	if i < len(s) && s[i] == '\r' {
		i++
	}
	if i >= len(s) || s[i] != '\n' {
		return "", 0
	}
	return delim, i + 1
}

// closesHeredoc reports whether the line at c is the heredoc's closing
// marker: the delimiter alone, after optional indentation.
func closesHeredoc(c *cursor, delim string) bool {
	i := c.i
	for i < len(c.src) && (c.src[i] == ' ' || c.src[i] == '\t') {
		i++
	}
	if len(c.src)-i < len(delim) || string(c.src[i:i+len(delim)]) != delim {
		return false
	}
	i += len(delim)
	if i < len(c.src) && c.src[i] == '\r' {
		i++
	}
	return i == len(c.src) || c.src[i] == '\n'
}

// templateDirective tells what a %{ sequence starting at s (after the
// "%{") does: 1 opens an if or for, -1 closes one, 0 otherwise.
func templateDirective(s []byte) int {
	i := 0
	if i < len(s) && s[i] == '~' {
		i++
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	start := i
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	switch string(s[start:i]) {
	case "if", "for":
		return 1
	case "endif", "endfor":
		return -1
	}
	return 0
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
