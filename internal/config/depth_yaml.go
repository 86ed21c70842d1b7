package config

import "github.com/goccy/go-yaml/token"

// scanYAMLDepth reports where src first nests deeper than limit. Block
// nesting is counted by indentation (each deeper indentation, and each
// "- " or "? " that opens a node on the same line, is one level) and flow
// nesting by brackets and braces outside comments, quoted scalars and block
// scalars. Where it is unsure it counts deeper, never shallower, than the
// parser would nest: a quoted scalar is skipped only where a scalar may
// start and only to the end of its line, and inside a flow collection no
// dedent lowers the count.
func scanYAMLDepth(src []byte, limit int) depthScan {
	c := newCursor(src)
	var cols []int // columns of the open block nodes, increasing
	flow := 0      // open flow collections
	// A block scalar (| or >) skips the lines indented deeper than parent;
	// indent is the indentation of its first line, 0 until that is seen.
	inScalar, scalarParent, scalarIndent := false, 0, 0
	// vstart is set where a scalar or collection may start. Inside a flow
	// collection it carries over newlines.
	vstart := false
	for !c.done() {
		// A line starts here.
		indent := 0
		for c.peek(indent) == ' ' {
			indent++
		}
		first := c.peek(indent)
		blank := c.i+indent >= len(c.src) || first == '\n' || first == '\r'
		if inScalar {
			switch {
			case blank:
				c.skipLine()
				c.skip(1)
				continue
			case scalarIndent == 0 && indent > scalarParent:
				scalarIndent = indent
				c.skipLine()
				c.skip(1)
				continue
			case scalarIndent > 0 && indent >= scalarIndent:
				c.skipLine()
				c.skip(1)
				continue
			}
			inScalar = false
		}
		c.skip(indent)
		if blank || first == '#' {
			c.skipLine()
			c.skip(1)
			continue
		}
		if flow == 0 {
			for len(cols) > 0 && cols[len(cols)-1] >= indent {
				cols = cols[:len(cols)-1]
			}
			cols = append(cols, indent)
			vstart = true
		} else if len(cols) == 0 || indent > cols[len(cols)-1] {
			// Inside a flow collection a dedent closes nothing.
			cols = append(cols, indent)
		}
		if len(cols)+flow > limit {
			return c.at()
		}
		if flow == 0 && c.hasPrefix("---") && (c.peek(3) == ' ' || c.peek(3) == '\n' || c.peek(3) == '\r' || c.i+3 == len(c.src)) {
			c.skip(3)
		}
		afterQuote := false
		prevSpace := true // the previous byte is whitespace or the line start
		for !c.done() && c.src[c.i] != '\n' {
			b := c.src[c.i]
			next := c.peek(1)
			nextSpace := next == ' ' || next == '\t' || next == '\n' || next == '\r' || next == 0
			switch {
			case b == ' ' || b == '\t' || b == '\r':
				c.next()
				prevSpace = true
				continue
			case b == '#' && prevSpace:
				c.skipLine()
				continue
			case flow == 0 && vstart && (b == '-' || b == '?') && nextSpace:
				// A block sequence entry or explicit key: the node after
				// it is one level deeper.
				c.next()
				for c.peek(0) == ' ' {
					c.next()
				}
				if p := c.peek(0); !c.done() && p != '\n' && p != '\r' && p != '#' {
					cols = append(cols, c.col-1)
					if len(cols)+flow > limit {
						return c.at()
					}
				}
				prevSpace = true
				continue
			case vstart && (b == '&' || b == '!'):
				// An anchor or tag comes before the value it names. Inside
				// a flow collection a flow indicator ends it.
				for !c.done() && c.src[c.i] != ' ' && c.src[c.i] != '\t' && c.src[c.i] != '\n' && (flow == 0 || !isFlowIndicator(c.src[c.i])) {
					c.next()
				}
				continue
			case vstart && (b == '"' || b == '\''):
				c.next()
				for !c.done() && c.src[c.i] != '\n' {
					q := c.src[c.i]
					if q == '\\' && b == '"' {
						c.next()
						if !c.done() && c.src[c.i] != '\n' {
							c.next()
						}
						continue
					}
					c.next()
					if q == b {
						if b == '\'' && c.peek(0) == '\'' {
							c.next()
							continue
						}
						break
					}
				}
				vstart, afterQuote, prevSpace = false, true, false
				continue
			case b == '[' || b == '{':
				if flow > 0 || vstart {
					flow++
					if len(cols)+flow > limit {
						return c.at()
					}
					vstart = true
				}
			case (b == ']' || b == '}') && flow > 0:
				flow--
				vstart = false
			case b == ',' && flow > 0:
				vstart = true
			case b == ':' && (nextSpace || (flow > 0 && afterQuote)):
				vstart = true
			case flow == 0 && vstart && (b == '|' || b == '>'):
				if explicit, ok := blockScalarHeader(c.src[c.i+1:]); ok {
					c.skipLine()
					if !explicit {
						// With an explicit indentation the lines are
						// scanned as structure, which only counts deeper.
						inScalar, scalarParent, scalarIndent = true, cols[len(cols)-1], 0
					}
					continue
				}
				vstart = false
			default:
				if flow == 0 || b != '?' {
					vstart = false
				}
			}
			afterQuote = false
			prevSpace = false
			c.next()
		}
		c.skip(1)
	}
	return depthScan{}
}

// isFlowIndicator reports whether b opens, closes or separates the entries
// of a flow collection.
func isFlowIndicator(b byte) bool {
	return b == '[' || b == ']' || b == '{' || b == '}' || b == ','
}

// blockScalarHeader matches the rest of a block scalar's header line after
// | or >: indicators, then blanks and an optional comment. explicit is set
// when it gives the indentation.
func blockScalarHeader(s []byte) (explicit, ok bool) {
	i := 0
	for i < len(s) && (s[i] == '-' || s[i] == '+' || (s[i] >= '1' && s[i] <= '9')) {
		if s[i] != '-' && s[i] != '+' {
			explicit = true
		}
		i++
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	if i < len(s) && s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
		return explicit, true
	}
	return explicit, i == len(s) || s[i] == '\n'
}

// flowTooDeep returns the first token that opens a flow collection deeper
// than limit, or nil. scanYAMLDepth reads text and guesses where the
// parser's tokens end (an anchor, a tag or a plain scalar may hold brackets,
// or end at one); this count, over the parser's own tokens, is exact for
// flow collections, whose nesting costs the parser time quadratic in depth
// (80,000 levels took a minute).
func flowTooDeep(tokens token.Tokens, limit int) *token.Token {
	depth := 0
	for _, tk := range tokens {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			depth++
			if depth > limit {
				return tk
			}
		case token.SequenceEndType, token.MappingEndType:
			// An unmatched end is the parser's error to report; it lowers
			// no count here.
			depth = max(depth-1, 0)
		}
	}
	return nil
}
