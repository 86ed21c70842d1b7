package config

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// maxYAMLNodes bounds the node tree a YAML file may expand to through
// aliases, so a "billion laughs" document fails instead of eating memory.
const maxYAMLNodes = 1_000_000

// yamlReader turns one YAML file into node trees, one per document.
type yamlReader struct {
	file    string
	r       *reporter
	anchors map[string]ast.Node
	budget  int
	// expanding holds the aliases being expanded, to catch cycles.
	expanding map[string]bool
	// depth counts the mappings and sequences being read; aliases can nest
	// a tree deeper than its text, which the pre-scan bounds.
	depth   int
	tooDeep bool
}

// readYAML parses src and returns one node tree per non-empty document.
// Anchors, aliases and merge keys are resolved; tags other than the core
// schema's are errors.
func readYAML(file string, src []byte, r *reporter) (docs []*node) {
	y := &yamlReader{file: file, r: r, anchors: map[string]ast.Node{}, budget: maxYAMLNodes, expanding: map[string]bool{}}
	defer func() {
		// The YAML parser is third-party code fed user input; a panic in it
		// must become a diagnostic, not a crash of the host.
		if p := recover(); p != nil {
			r.errorf(Range{File: file, Line: 1, Col: 1}, "reading YAML failed: %v", p)
			docs = nil
		}
	}()
	tokens := lexer.Tokenize(string(src))
	if tk := flowTooDeep(tokens, MaxNestingDepth); tk != nil {
		y.r.errorf(y.tokenPos(tk), "nesting deeper than %d levels", MaxNestingDepth)
		return nil
	}
	f, err := parser.Parse(tokens, 0)
	if err != nil {
		y.syntaxError(err)
		return nil
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, isComment := doc.Body.(*ast.CommentGroupNode); isComment {
			continue
		}
		if n := y.node(doc.Body); n != nil {
			docs = append(docs, n)
		}
	}
	return docs
}

func (y *yamlReader) syntaxError(err error) {
	at := Range{File: y.file, Line: 1, Col: 1}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		y.r.errorf(at, "invalid YAML: %s", strings.TrimSpace(err.Error()))
		return
	}
	// Only the message: the parser's Error() prints the source around the
	// token, in time quadratic in the length of its line (a minute for one
	// 400 kB line).
	msg := ye.GetMessage()
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		at = y.tokenPos(tk)
	}
	y.r.errorf(at, "invalid YAML: %s", strings.TrimSpace(msg))
}

func (y *yamlReader) tokenPos(tk *token.Token) Range {
	if tk == nil || tk.Position == nil {
		return Range{File: y.file, Line: 1, Col: 1}
	}
	return Range{File: y.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// pos returns where n starts: the first key of a block mapping rather than
// its first colon.
func (y *yamlReader) pos(n ast.Node) Range {
	switch x := n.(type) {
	case *ast.MappingNode:
		if !x.IsFlowStyle && len(x.Values) > 0 {
			return y.pos(x.Values[0])
		}
		return y.tokenPos(x.Start)
	case *ast.MappingValueNode:
		return y.pos(x.Key)
	case *ast.MappingKeyNode:
		if x.Value != nil {
			return y.pos(x.Value)
		}
	case *ast.DocumentNode:
		if x.Body != nil {
			return y.pos(x.Body)
		}
		return Range{File: y.file, Line: 1, Col: 1}
	}
	if n == nil {
		return Range{File: y.file, Line: 1, Col: 1}
	}
	return y.tokenPos(n.GetToken())
}

func (y *yamlReader) node(n ast.Node) *node {
	y.budget--
	if y.budget < 0 {
		if y.budget == -1 {
			y.r.errorf(y.pos(n), "the document expands to more than %d values through aliases", maxYAMLNodes)
		}
		return &node{rng: y.pos(n)}
	}
	at := y.pos(n)
	switch x := n.(type) {
	case nil:
		return &node{rng: at}
	case *ast.MappingNode:
		return y.mapping(x.Values, at)
	case *ast.MappingValueNode:
		return y.mapping([]*ast.MappingValueNode{x}, at)
	case *ast.SequenceNode:
		if !y.enter(at) {
			return &node{rng: at}
		}
		defer y.leave()
		l := &node{kind: listNode, rng: at}
		for _, v := range x.Values {
			l.items = append(l.items, y.node(v))
		}
		return l
	case *ast.AnchorNode:
		if name := anchorName(x.Name); name != "" {
			y.anchors[name] = x.Value
		}
		return y.node(x.Value)
	case *ast.AliasNode:
		name := anchorName(x.Value)
		target, ok := y.anchors[name]
		if !ok {
			y.r.errorf(at, "unknown alias *%s", name)
			return &node{rng: at}
		}
		if y.expanding[name] {
			y.r.errorf(at, "alias *%s refers to itself", name)
			return &node{rng: at}
		}
		y.expanding[name] = true
		defer delete(y.expanding, name)
		return y.node(target)
	case *ast.TagNode:
		return y.tagged(x, at)
	case *ast.StringNode:
		return &node{scalar: x.Value, rng: at}
	case *ast.LiteralNode:
		if x.Value == nil {
			return &node{scalar: "", rng: at}
		}
		return &node{scalar: x.Value.Value, rng: at}
	case *ast.IntegerNode:
		switch v := x.Value.(type) {
		case int64:
			return &node{scalar: v, rng: at}
		case uint64:
			if v <= math.MaxInt64 {
				return &node{scalar: int64(v), rng: at}
			}
			return &node{scalar: float64(v), rng: at}
		}
		y.r.errorf(at, "invalid integer %s", x.GetToken().Value)
		return &node{rng: at}
	case *ast.FloatNode:
		return &node{scalar: x.Value, rng: at}
	case *ast.BoolNode:
		return &node{scalar: x.Value, rng: at}
	case *ast.NullNode:
		return &node{rng: at}
	case *ast.InfinityNode, *ast.NanNode:
		y.r.errorf(at, "infinite and not-a-number values are not supported")
		return &node{rng: at}
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{rng: at}
	}
	y.r.errorf(at, "unsupported YAML node %s", n.Type())
	return &node{rng: at}
}

// enter starts reading a mapping or sequence. It reports, once, a tree that
// its aliases nest deeper than MaxNestingDepth, and then returns false.
func (y *yamlReader) enter(at Range) bool {
	if y.depth >= MaxNestingDepth {
		if !y.tooDeep {
			y.tooDeep = true
			y.r.errorf(at, "nesting deeper than %d levels once aliases are expanded", MaxNestingDepth)
		}
		return false
	}
	y.depth++
	return true
}

func (y *yamlReader) leave() { y.depth-- }

func anchorName(n ast.Node) string {
	if n == nil {
		return ""
	}
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// mapping converts the pairs of a mapping. Merge keys (<<) apply after the
// explicit keys, which take precedence wherever they are written.
func (y *yamlReader) mapping(values []*ast.MappingValueNode, at Range) *node {
	if !y.enter(at) {
		return &node{rng: at}
	}
	defer y.leave()
	obj := &node{kind: objectNode, rng: at}
	var merges []*node
	for _, mv := range values {
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			merges = append(merges, y.node(mv.Value))
			continue
		}
		keyNode := ast.Node(mv.Key)
		if k, ok := keyNode.(*ast.MappingKeyNode); ok {
			keyNode = k.Value
		}
		key := y.node(keyNode)
		if key.kind != scalarNode || key.scalar == nil {
			y.r.errorf(key.rng, "a mapping key must be a string, not %s", key.kindName())
			continue
		}
		obj.entries = append(obj.entries, &entry{key: fmt.Sprint(key.scalar), keyRng: key.rng, val: y.node(mv.Value)})
	}
	for _, m := range merges {
		y.merge(obj, m)
	}
	return obj
}

// merge applies a YAML merge key: the keys of src (an object or a list of
// objects) that obj does not set itself.
func (y *yamlReader) merge(obj, src *node) {
	sources := []*node{src}
	if src.kind == listNode {
		sources = src.items
	}
	for _, s := range sources {
		if s.kind != objectNode {
			y.r.errorf(s.rng, "a merge key (<<) needs a mapping or a list of mappings, not %s", s.kindName())
			continue
		}
		for _, e := range s.entries {
			if obj.entry(e.key) == nil {
				obj.entries = append(obj.entries, e)
			}
		}
	}
}

// tagged resolves the YAML core schema's tags; !!str keeps a scalar's text.
func (y *yamlReader) tagged(x *ast.TagNode, at Range) *node {
	tag := ""
	if x.Start != nil {
		tag = x.Start.Value
	}
	n := y.node(x.Value)
	switch tag {
	case "!!str", "tag:yaml.org,2002:str":
		if n.kind == scalarNode && x.Value != nil {
			if tk := x.Value.GetToken(); tk != nil {
				n.scalar = tk.Value
			}
			if s, ok := x.Value.(*ast.StringNode); ok {
				n.scalar = s.Value
			}
			if n.scalar == nil {
				n.scalar = ""
			}
			return n
		}
		y.r.errorf(at, "!!str applies to scalars only")
	case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!binary":
	default:
		y.r.errorf(at, "unsupported YAML tag %s", tag)
	}
	return n
}
