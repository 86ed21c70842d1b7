package expr

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// cel-go charges a call's cost after the call has returned, so MaxCost alone
// cannot stop one call from building a value far larger than its inputs:
// ['x' * 300 KB] repeated by map and then joined is a few thousand cost
// units of map and then gigabytes of join. Every function whose result can
// outgrow its inputs many times over is therefore wrapped in a guard that
// computes the result's size from the arguments first and fails when it
// would pass MaxValueSize. The same holds for time: the functions that
// compare every element of a list with every other (distinct, hasAll...)
// are refused when that is more pairs than MaxCost, since one call cannot
// be interrupted. Functions whose results are at most a small multiple of
// their inputs (+, substring, split, base64, sort, ...) need no guard: the
// cost of building each result is charged, so MaxCost bounds the memory
// they can allocate in all.

// guard is the check of one overload: given the call's arguments it says
// why the call may not run, or returns "".
type guard struct {
	function string
	overload string
	args     []*cel.Type
	result   *cel.Type
	check    func(args []ref.Val) string
	options  []decls.FunctionOpt
}

func guards() []guard {
	str, list, boolean := cel.StringType, cel.ListType(cel.TypeParamType("T")), cel.BoolType
	bytes := sizeLimit(sizeText(MaxValueSize))
	elements := sizeLimit(fmt.Sprintf("%d elements", MaxValueSize))
	noTypeGuards := []decls.FunctionOpt{decls.DisableTypeGuards(true)}
	return []guard{
		{function: "join", overload: "list_join", args: []*cel.Type{cel.ListType(str)}, result: str, check: bytes(joinSize)},
		{function: "join", overload: "list_join_string", args: []*cel.Type{cel.ListType(str), str}, result: str, check: bytes(joinSize)},
		{function: "replace", overload: "string_replace_string_string", args: []*cel.Type{str, str, str}, result: str, check: bytes(replaceSize)},
		{function: "replace", overload: "string_replace_string_string_int", args: []*cel.Type{str, str, str, cel.IntType}, result: str, check: bytes(replaceSize)},
		{function: "format", overload: "string_format", args: []*cel.Type{str, cel.ListType(cel.DynType)}, result: str, check: bytes(formatSize)},
		{function: "flatten", overload: "list_flatten", args: []*cel.Type{cel.ListType(list)}, result: list, check: elements(flattenSize), options: noTypeGuards},
		{function: "flatten", overload: "list_flatten_int", args: []*cel.Type{cel.ListType(cel.DynType), cel.IntType}, result: cel.ListType(cel.DynType), check: elements(flattenSize), options: noTypeGuards},
		// These compare every element with every other: their work grows
		// with the square of the lists' length.
		{function: "distinct", overload: "list_distinct", args: []*cel.Type{list}, result: list, check: pairs},
		{function: "hasOnly", overload: "list_hasOnly_list", args: []*cel.Type{list, list}, result: boolean, check: pairs},
		{function: "hasAny", overload: "list_hasAny_list", args: []*cel.Type{list, list}, result: boolean, check: pairs},
		{function: "hasAll", overload: "list_hasAll_list", args: []*cel.Type{list, list}, result: boolean, check: pairs},
		{function: "hasExactly", overload: "list_hasExactly_list", args: []*cel.Type{list, list}, result: boolean, check: pairs},
	}
}

// sizeLimit turns a size function, which stops once the size passes its
// limit, into a check.
func sizeLimit(limit string) func(size func([]ref.Val) (int, bool)) func([]ref.Val) string {
	return func(size func([]ref.Val) (int, bool)) func([]ref.Val) string {
		return func(args []ref.Val) string {
			if _, over := size(args); over {
				return "the result would be larger than " + limit
			}
			return ""
		}
	}
}

// pairs refuses a call that would compare more than MaxCost pairs of
// elements.
func pairs(args []ref.Val) string {
	var lens []int
	for _, a := range args {
		if l, ok := a.(traits.Lister); ok {
			lens = append(lens, listLen(l))
		}
	}
	n := 0
	switch len(lens) {
	case 1:
		n = lens[0] * (lens[0] - 1) / 2
	case 2:
		n = lens[0] * lens[1]
	}
	if n > MaxCost {
		return fmt.Sprintf("the lists are too long: comparing %d pairs of elements is more work than one expression may do (%d)", n, MaxCost)
	}
	return ""
}

// guarded holds the overload ids of guards().
var guarded = func() map[string]bool {
	m := map[string]bool{}
	for _, g := range guards() {
		m[g.overload] = true
	}
	return m
}()

// withGuards returns env with every guarded overload rebound to a function
// that checks the result's size and then calls the overload's own
// implementation.
func withGuards(env *cel.Env) (*cel.Env, error) {
	fns := env.Functions()
	var opts []cel.EnvOption
	for _, g := range guards() {
		impl, err := implementation(fns[g.function], g.overload)
		if err != nil {
			return nil, err
		}
		bind := cel.FunctionBinding(func(args ...ref.Val) ref.Val {
			if msg := g.check(args); msg != "" {
				return types.NewErr("%s: %s", g.function, msg)
			}
			return impl(args...)
		})
		fnOpts := []cel.FunctionOpt{cel.MemberOverload(g.overload, g.args, g.result, bind)}
		fnOpts = append(fnOpts, g.options...)
		opts = append(opts, cel.Function(g.function, fnOpts...))
	}
	return env.Extend(opts...)
}

// implementation finds the runtime binding of one overload of fn.
func implementation(fn *decls.FunctionDecl, overload string) (functions.FunctionOp, error) {
	if fn == nil {
		return nil, fmt.Errorf("guarding %s: the function is not declared", overload)
	}
	bindings, err := fn.Bindings()
	if err != nil {
		return nil, fmt.Errorf("guarding %s: %w", overload, err)
	}
	for _, b := range bindings {
		if b.Operator != overload {
			continue
		}
		unary, binary, function := b.Unary, b.Binary, b.Function
		return func(args ...ref.Val) ref.Val {
			switch {
			case len(args) == 1 && unary != nil:
				return unary(args[0])
			case len(args) == 2 && binary != nil:
				return binary(args[0], args[1])
			case function != nil:
				return function(args...)
			}
			return types.NewErr("no such overload: %s", overload)
		}, nil
	}
	return nil, fmt.Errorf("guarding %s: the overload has no implementation", overload)
}

// joinSize is the length of list.join(separator).
func joinSize(args []ref.Val) (int, bool) {
	l, ok := args[0].(traits.Lister)
	if !ok {
		return 0, false
	}
	sep := 0
	if len(args) > 1 {
		if s, ok := args[1].(types.String); ok {
			sep = len(s)
		}
	}
	n := 0
	for i := range listLen(l) {
		if i > 0 {
			n += sep
		}
		if s, ok := l.Get(types.Int(i)).(types.String); ok {
			n += len(s)
		}
		if n > MaxValueSize {
			return n, true
		}
	}
	return n, false
}

// replaceSize is the length of s.replace(old, new[, n]).
func replaceSize(args []ref.Val) (int, bool) {
	s, ok1 := args[0].(types.String)
	old, ok2 := args[1].(types.String)
	repl, ok3 := args[2].(types.String)
	if !ok1 || !ok2 || !ok3 || len(repl) <= len(old) {
		return 0, false
	}
	count := strings.Count(string(s), string(old))
	if len(args) > 3 {
		if limit, ok := args[3].(types.Int); ok && limit >= 0 && int64(count) > int64(limit) {
			count = int(limit)
		}
	}
	grow := len(repl) - len(old)
	if count > 0 && grow > (MaxValueSize-len(s))/count {
		return len(s) + MaxValueSize, true
	}
	n := len(s) + count*grow
	return n, n > MaxValueSize
}

// formatSize bounds the length of fmt.format(args): the format text plus
// each argument, which a verb writes at most twice its JSON size (%x) plus
// a number's digits.
func formatSize(args []ref.Val) (int, bool) {
	f, ok1 := args[0].(types.String)
	l, ok2 := args[1].(traits.Lister)
	if !ok1 || !ok2 {
		return 0, false
	}
	n := len(f)
	for i := range listLen(l) {
		n += 2*sizeOf(l.Get(types.Int(i)), MaxValueSize) + 128
		if n > MaxValueSize {
			return n, true
		}
	}
	return n, false
}

// flattenSize counts the elements of list.flatten([depth]).
func flattenSize(args []ref.Val) (int, bool) {
	l, ok := args[0].(traits.Lister)
	if !ok {
		return 0, false
	}
	depth := int64(1)
	if len(args) > 1 {
		if d, ok := args[1].(types.Int); ok {
			depth = int64(d)
		}
	}
	n := 0
	var count func(traits.Lister, int64) bool
	count = func(l traits.Lister, depth int64) bool {
		for i := range listLen(l) {
			if inner, ok := l.Get(types.Int(i)).(traits.Lister); ok && depth > 0 {
				if count(inner, depth-1) {
					return true
				}
				continue
			}
			if n++; n > MaxValueSize {
				return true
			}
		}
		return false
	}
	over := count(l, depth)
	return n, over
}
