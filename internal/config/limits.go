package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// MaxFileSize bounds the size of one project file. Real workflow files are
// a few kilobytes; a larger one belongs in several files, or its data in a
// run's input. The HCL and YAML parsers hold a few hundred bytes per token,
// so a 1 MiB file of the worst kind already costs about 400 MB to parse (a
// 4 MiB one took 1.6 GB): the file is refused before it is read.
const MaxFileSize = 1 << 20

// MaxNestingDepth bounds how deeply the values of a project file may nest:
// blocks, objects, lists, strings and templates each count one level, and so
// does each operator of an HCL expression, which the HCL parser also
// recurses on. A workflow rarely goes past ten. Deeper files are refused
// before they are parsed: the HCL parser overflows the stack, which no
// recover catches, on tens of thousands of levels.
const MaxNestingDepth = 100

// checkLimits reports a file that is larger than MaxFileSize or nests
// deeper than MaxNestingDepth, at the position where it first goes too
// deep. It must run before a parser sees the file.
func checkLimits(src Source, r *reporter) bool {
	if len(src.Data) > MaxFileSize {
		r.diags = append(r.diags, fileTooLarge(src.Name, int64(len(src.Data))))
		return false
	}
	var s depthScan
	switch strings.ToLower(filepath.Ext(src.Name)) {
	case ".hcl":
		s = scanHCLDepth(src.Data, MaxNestingDepth)
	case ".yaml", ".yml":
		s = scanYAMLDepth(src.Data, MaxNestingDepth)
	default:
		return true
	}
	if s.tooDeep {
		r.errorf(Range{File: src.Name, Line: s.line, Col: s.col}, "nesting deeper than %d levels", MaxNestingDepth)
		return false
	}
	return true
}

// fileTooLarge reports a project file over MaxFileSize.
func fileTooLarge(name string, size int64) *Diagnostic {
	return &Diagnostic{Severity: Error, File: name, Line: 1, Col: 1, Summary: fmt.Sprintf("file is larger than %d MiB (%d bytes): split it into smaller files", MaxFileSize>>20, size)}
}

// depthScan is the result of a nesting pre-scan: where the text first went
// deeper than the limit, when it did.
type depthScan struct {
	tooDeep   bool
	line, col int
}

// cursor walks text by byte, keeping the line and column (in runes) of the
// current byte.
type cursor struct {
	src       []byte
	i         int
	line, col int
}

func newCursor(src []byte) *cursor { return &cursor{src: src, line: 1, col: 1} }

func (c *cursor) done() bool { return c.i >= len(c.src) }

// peek returns the byte k positions ahead, 0 past the end.
func (c *cursor) peek(k int) byte {
	if c.i+k < len(c.src) {
		return c.src[c.i+k]
	}
	return 0
}

func (c *cursor) hasPrefix(s string) bool {
	return strings.HasPrefix(string(c.src[c.i:min(len(c.src), c.i+len(s))]), s)
}

// next moves past the current byte.
func (c *cursor) next() {
	b := c.src[c.i]
	c.i++
	switch {
	case b == '\n':
		c.line++
		c.col = 1
	case b&0xC0 != 0x80:
		// Not a UTF-8 continuation byte: a new rune starts here.
		c.col++
	}
}

// skip moves past n bytes.
func (c *cursor) skip(n int) {
	for ; n > 0 && !c.done(); n-- {
		c.next()
	}
}

// skipLine moves to the newline that ends the current line, or the end.
func (c *cursor) skipLine() {
	for !c.done() && c.src[c.i] != '\n' {
		c.next()
	}
}

func (c *cursor) at() depthScan { return depthScan{tooDeep: true, line: c.line, col: c.col} }

func (s depthScan) String() string {
	if !s.tooDeep {
		return "within the limit"
	}
	return fmt.Sprintf("too deep at %d:%d", s.line, s.col)
}
