package expr

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
)

// EventKey looks in a wait_for's match for a conjunct that correlates the
// event with the run: event.<path> == E (or E == event.<path>), where E
// reads no event, at the top level or inside &&. It returns the event's
// field path and E's source. A waiting run stores E's value, so an
// arriving event is offered only to the runs whose value equals its field
// (an index lookup, not a scan), before the whole match is evaluated.
func (c *Compiler) EventKey(src string) (path []string, other string, ok bool) {
	parsed, iss := c.env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, "", false
	}
	native := parsed.NativeRep()
	var found []eventEq
	collectEventEqs(native.Expr(), &found)
	// A value read from the run (steps, vars, trigger) tells runs apart;
	// a constant does not, so it is the last choice.
	for _, eq := range found {
		if len(collectReferences(eq.other)) > 0 {
			return eq.key(native.SourceInfo())
		}
	}
	if len(found) > 0 {
		return found[0].key(native.SourceInfo())
	}
	return nil, "", false
}

// eventEq is one conjunct event.<path> == other.
type eventEq struct {
	path  []string
	other ast.Expr
}

func (eq eventEq) key(info *ast.SourceInfo) ([]string, string, bool) {
	src, err := cel.ExprToString(eq.other, info)
	if err != nil {
		return nil, "", false
	}
	return eq.path, src, true
}

// collectEventEqs appends the conjuncts of e (at the top or inside &&)
// that compare an event field with an expression that reads no event.
func collectEventEqs(e ast.Expr, into *[]eventEq) {
	if e.Kind() != ast.CallKind {
		return
	}
	call := e.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case "_&&_":
		for _, a := range args {
			collectEventEqs(a, into)
		}
	case "_==_":
		for i, side := range args {
			path, ok := eventPath(side)
			if !ok {
				continue
			}
			rest := args[1-i]
			for _, r := range collectReferences(rest) {
				if r.root == "event" {
					return
				}
			}
			*into = append(*into, eventEq{path: path, other: rest})
			return
		}
	}
}

// eventPath reads event.a.b as [a b].
func eventPath(e ast.Expr) ([]string, bool) {
	var rev []string
	for e.Kind() == ast.SelectKind {
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return nil, false
		}
		rev = append(rev, sel.FieldName())
		e = sel.Operand()
	}
	if e.Kind() != ast.IdentKind || e.AsIdent() != "event" || len(rev) == 0 {
		return nil, false
	}
	path := make([]string, len(rev))
	for i, f := range rev {
		path[len(rev)-1-i] = f
	}
	return path, true
}
