package config

import (
	"math"
	"math/big"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// blockMode says how an HCL block maps onto the YAML-shaped node tree.
type blockMode uint8

const (
	// byLabel blocks become keys of an object named by their one label:
	// provider "x" {} is providers: {x: {}}.
	byLabel blockMode = iota
	// listByLabel blocks become items of a list with their one label under
	// labelKey: step "x" {} is steps: [{id: x}].
	listByLabel
	// list blocks, without labels, become items of a list.
	list
	// single blocks, without labels, become an object; at most one each.
	single
)

type hclBlockSpec struct {
	key      string
	mode     blockMode
	labelKey string
	// labelHint describes the expected label, for messages.
	labelHint string
	body      *hclBodySpec
}

type hclBodySpec struct {
	blocks map[string]hclBlockSpec
	// reserved are attribute names the YAML form has but HCL spells as a
	// block or label; writing them as attributes is an error with a hint.
	reserved map[string]string
}

var (
	hclLeaf    = &hclBodySpec{}
	hclTrigger = &hclBodySpec{reserved: map[string]string{"type": `the trigger type is the block's label, as in trigger "cron" { ... }`}}
	hclStep    = &hclBodySpec{
		blocks: map[string]hclBlockSpec{
			"retry":    {key: "retry", mode: single, body: hclLeaf},
			"fallback": {key: "fallback", mode: list, body: hclLeaf},
			"wait":     {key: "wait", mode: single, body: hclLeaf},
			"wait_for": {key: "wait_for", mode: single, body: hclLeaf},
			"window":   {key: "window", mode: single, body: hclLeaf},
		},
		reserved: map[string]string{
			"id":       `the step id is the block's label, as in step "notify" { ... }`,
			"wait":     `write wait as a block: wait { duration = "10m" }`,
			"wait_for": `write wait_for as a block: wait_for { signal = "ack", timeout = "30m" }`,
			"window":   `write window as a block: window { hours = "08:00-21:00", timezone = "Europe/Berlin" }`,
			"retry":    "write retry as a block: retry { max_attempts = 3 }",
			"fallback": "write each fallback as a block: fallback { uses = ... }",
		},
	}
	hclWorkflow = &hclBodySpec{
		blocks: map[string]hclBlockSpec{
			"trigger":     {key: "triggers", mode: listByLabel, labelKey: "type", labelHint: "its type (cron, webhook or event)", body: hclTrigger},
			"step":        {key: "steps", mode: listByLabel, labelKey: "id", labelHint: "its id", body: hclStep},
			"concurrency": {key: "concurrency", mode: single, body: hclLeaf},
		},
		reserved: map[string]string{
			"triggers":    `declare triggers as blocks: trigger "cron" { ... }`,
			"steps":       `declare steps as blocks: step "id" { ... }`,
			"concurrency": "write concurrency as a block: concurrency { limit = 1 }",
		},
	}
	hclRoot = &hclBodySpec{
		blocks: map[string]hclBlockSpec{
			"provider": {key: "providers", mode: byLabel, labelHint: "its instance name", body: hclLeaf},
			"workflow": {key: "workflows", mode: byLabel, labelHint: "its name", body: hclWorkflow},
			// required_plugins { telegram = { version = ">= 1.2" } }, as
			// in Terraform's required_providers.
			"required_plugins": {key: "required_plugins", mode: single, body: hclLeaf},
		},
		reserved: map[string]string{
			"providers":        `declare providers as blocks: provider "name" { ... }`,
			"workflows":        `declare workflows as blocks: workflow "name" { ... }`,
			"required_plugins": `write required_plugins as a block: required_plugins { telegram = { version = ">= 1.2" } }`,
		},
	}
)

// hclReader turns one HCL file into a node tree.
type hclReader struct {
	file string
	r    *reporter
}

// readHCL parses src as HCL native syntax into a node tree. Expressions are
// read as literal values without any evaluation context: variables and
// function calls are errors, because CEL templates are the only expression
// language.
func readHCL(file string, src []byte, r *reporter) *node {
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	h := &hclReader{file: file, r: r}
	h.report(diags)
	if diags.HasErrors() || f == nil {
		return nil
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	return h.body(body, hclRoot, Range{File: file, Line: 1, Col: 1})
}

func (h *hclReader) pos(p hcl.Pos) Range {
	return Range{File: h.file, Line: p.Line, Col: p.Column}
}

func (h *hclReader) report(diags hcl.Diagnostics) {
	for _, d := range diags {
		at := Range{File: h.file, Line: 1, Col: 1}
		if d.Subject != nil {
			at = h.pos(d.Subject.Start)
		}
		diag := &Diagnostic{Severity: Error, File: at.File, Line: at.Line, Col: at.Col, Summary: lowerFirst(d.Summary), Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			diag.Severity = Warning
		}
		h.r.diags = append(h.r.diags, diag)
	}
}

// lowerFirst lower-cases the first letter of an HCL summary, to match the
// style of Herald's own messages.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || (len(s) > n && unicode.IsUpper(rune(s[n]))) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// body converts an HCL body to an object node, with its blocks placed as
// spec says.
func (h *hclReader) body(b *hclsyntax.Body, spec *hclBodySpec, at Range) *node {
	obj := &node{kind: objectNode, rng: at}
	type positioned struct {
		offset int
		attr   *hclsyntax.Attribute
		block  *hclsyntax.Block
	}
	var items []positioned
	for _, a := range b.Attributes {
		items = append(items, positioned{offset: a.SrcRange.Start.Byte, attr: a})
	}
	for _, bl := range b.Blocks {
		items = append(items, positioned{offset: bl.TypeRange.Start.Byte, block: bl})
	}
	slices.SortFunc(items, func(a, b positioned) int { return a.offset - b.offset })

	for _, it := range items {
		if a := it.attr; a != nil {
			if hint, ok := spec.reserved[a.Name]; ok {
				h.r.errorf(h.pos(a.NameRange.Start), "unexpected attribute %q: %s", a.Name, hint)
				continue
			}
			obj.entries = append(obj.entries, &entry{key: a.Name, keyRng: h.pos(a.NameRange.Start), val: h.expr(a.Expr)})
			continue
		}
		h.block(obj, it.block, spec)
	}
	return obj
}

func (h *hclReader) block(obj *node, bl *hclsyntax.Block, spec *hclBodySpec) {
	at := h.pos(bl.TypeRange.Start)
	bs, ok := spec.blocks[bl.Type]
	if !ok {
		allowed := make([]string, 0, len(spec.blocks))
		for name := range spec.blocks {
			allowed = append(allowed, name)
		}
		slices.Sort(allowed)
		if len(allowed) == 0 {
			h.r.errorf(at, "unexpected block %q: no blocks are allowed here", bl.Type)
		} else {
			h.r.errorf(at, "unexpected block %q: expected %s", bl.Type, strings.Join(allowed, ", "))
		}
		return
	}
	wantLabels := 0
	if bs.mode == byLabel || bs.mode == listByLabel {
		wantLabels = 1
	}
	if len(bl.Labels) != wantLabels {
		if wantLabels == 0 {
			h.r.errorf(at, "a %s block takes no labels", bl.Type)
		} else {
			h.r.errorf(at, "a %s block needs one label, %s", bl.Type, bs.labelHint)
		}
		return
	}
	content := h.body(bl.Body, bs.body, at)
	parent := obj.entry(bs.key)
	if parent == nil || !parent.block || bs.mode == single {
		parent = &entry{key: bs.key, keyRng: at, block: true, val: &node{rng: at}}
		switch bs.mode {
		case byLabel:
			parent.val.kind = objectNode
		case listByLabel, list:
			parent.val.kind = listNode
		}
		obj.entries = append(obj.entries, parent)
	}
	switch bs.mode {
	case byLabel:
		parent.val.entries = append(parent.val.entries, &entry{key: bl.Labels[0], keyRng: h.pos(bl.LabelRanges[0].Start), val: content, block: true})
	case listByLabel:
		label := &node{scalar: bl.Labels[0], rng: h.pos(bl.LabelRanges[0].Start)}
		content.entries = append([]*entry{{key: bs.labelKey, keyRng: label.rng, val: label}}, content.entries...)
		parent.val.items = append(parent.val.items, content)
	case list:
		parent.val.items = append(parent.val.items, content)
	case single:
		parent.val = content
	}
}

// expr converts an attribute expression to a node, keeping the position of
// every key and element of object and tuple constructors.
func (h *hclReader) expr(e hclsyntax.Expression) *node {
	at := h.pos(e.Range().Start)
	switch x := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		obj := &node{kind: objectNode, rng: at}
		for _, item := range x.Items {
			keyAt := h.pos(item.KeyExpr.Range().Start)
			if !h.literal(item.KeyExpr) {
				continue
			}
			kv, diags := item.KeyExpr.Value(nil)
			h.report(diags)
			if diags.HasErrors() {
				continue
			}
			key, ok := h.key(kv, keyAt)
			if !ok {
				continue
			}
			obj.entries = append(obj.entries, &entry{key: key, keyRng: keyAt, val: h.expr(item.ValueExpr)})
		}
		return obj
	case *hclsyntax.TupleConsExpr:
		l := &node{kind: listNode, rng: at}
		for _, el := range x.Exprs {
			l.items = append(l.items, h.expr(el))
		}
		return l
	}
	if !h.literal(e) {
		return &node{rng: at}
	}
	v, diags := e.Value(nil)
	h.report(diags)
	if diags.HasErrors() {
		return &node{rng: at}
	}
	return h.value(v, at)
}

func (h *hclReader) key(v cty.Value, at Range) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		h.r.errorf(at, "an object key must be a string")
		return "", false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), true
	case cty.Bool:
		if v.True() {
			return "true", true
		}
		return "false", true
	}
	h.r.errorf(at, "an object key must be a string")
	return "", false
}

// literal reports HCL variable references and function calls in e, which
// Herald does not evaluate, and tells whether e is free of them.
func (h *hclReader) literal(e hclsyntax.Expression) bool {
	ok := true
	for _, tr := range hclsyntax.Variables(e) {
		ok = false
		h.r.errorf(h.pos(tr.SourceRange().Start), "HCL variable references are not supported (%s): values are literals, and expressions are CEL templates such as \"{{ vars.x }}\"", traversalName(tr))
	}
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if fc, isCall := n.(*hclsyntax.FunctionCallExpr); isCall {
			ok = false
			h.r.errorf(h.pos(fc.NameRange.Start), "HCL function calls are not supported (%s): values are literals, and expressions are CEL templates such as \"{{ vars.x.upperAscii() }}\"", fc.Name)
		}
		return nil
	})
	return ok
}

func traversalName(tr hcl.Traversal) string {
	var b strings.Builder
	for i, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		default:
			if i == 0 {
				b.WriteString("?")
			}
			b.WriteString("[...]")
		}
	}
	return b.String()
}

// value converts an evaluated literal to a node; every part gets the
// position of the expression.
func (h *hclReader) value(v cty.Value, at Range) *node {
	n := &node{rng: at}
	if v.IsNull() {
		return n
	}
	if !v.IsKnown() {
		h.r.errorf(at, "value is not known until run time")
		return n
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		n.scalar = v.AsString()
	case ty == cty.Bool:
		n.scalar = v.True()
	case ty == cty.Number:
		n.scalar = h.number(v.AsBigFloat(), at)
	case ty.IsObjectType() || ty.IsMapType():
		n.kind = objectNode
		for it := v.ElementIterator(); it.Next(); {
			k, el := it.Element()
			n.entries = append(n.entries, &entry{key: k.AsString(), keyRng: at, val: h.value(el, at)})
		}
	case ty.IsTupleType() || ty.IsListType() || ty.IsSetType():
		n.kind = listNode
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			n.items = append(n.items, h.value(el, at))
		}
	default:
		h.r.errorf(at, "unsupported value of type %s", ty.FriendlyName())
	}
	return n
}

// number returns an int64 for whole numbers that fit, else a float64.
func (h *hclReader) number(f *big.Float, at Range) any {
	if f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact {
			return i
		}
	}
	v, _ := f.Float64()
	if math.IsInf(v, 0) {
		h.r.errorf(at, "number %s is out of range", f.Text('g', 10))
		return nil
	}
	return v
}
