package expr

import (
	"fmt"
	"math"
	"strconv"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/traits"
)

// The limits below keep one expression from taking the host down. They are
// fixed rather than configurable: each is far above what a notification
// needs, and far below what hurts a host.
const (
	// MaxValueSize bounds what one {{ }} template renders to, and every
	// string that a size-multiplying function (join, replace, format) builds
	// while an expression runs, in bytes, and every list flatten builds, in
	// elements: 1 MiB, the size of the largest webhook body Herald accepts. A value's size is the length
	// of its JSON text, escapes not counted; a text template's is its length.
	MaxValueSize = 1 << 20

	// MaxInputSize bounds a whole rendered value tree, such as the input of
	// one step (its with), its override, a for_each list or a workflow's
	// vars: 4 MiB, room for a few fields of the largest size.
	MaxInputSize = 4 << 20

	// MaxCost bounds the work of one evaluation of one expression, in
	// cel-go's cost units (about one per variable read, operator or loop
	// iteration, and one per ten bytes of a string scanned or built). Ten
	// million units are about a second of CPU: a loop over every element of
	// the largest webhook body fits, a loop nested in a loop over it does
	// not. An evaluation that exceeds it stops with an error. It also bounds
	// the pairs of elements one call of distinct, hasOnly, hasAny, hasAll or
	// hasExactly may compare.
	MaxCost = 10_000_000

	// MaxEstimatedCost is the worst-case cost above which an expression is
	// rejected when the project loads. The worst case assumes that every
	// value an expression reads (trigger data, vars, step outputs, item) may
	// be as large as inputSizeBound, so it is pessimistic: a loop over the
	// trigger body estimates at about 10^7, a loop nested in another between
	// 10^12 and 10^17 depending on what it compares, and three loops deep at
	// 10^18 or more. Expressions up to two loops deep load and are bounded at
	// run time by MaxCost and the step's timeout; deeper nesting over input
	// data, which could not finish on large inputs in a lifetime, is an error
	// at its file and line.
	MaxEstimatedCost = 1_000_000_000_000_000_000

	// inputSizeBound is the size, in bytes of a string or elements of a
	// list or map, assumed for every value an expression reads when its cost
	// is estimated: the webhook body limit, which also bounds what the
	// rendered values here produce.
	inputSizeBound = 1 << 20

	// interruptCheckFrequency is how many iterations of a comprehension run
	// between two checks of the evaluation's context.
	interruptCheckFrequency = 100
)

// sizeOf measures v, a plain Go value or a CEL value, as the length of its
// JSON text without escapes. It stops counting once the size passes limit
// and then returns a value above limit, so measuring a list that holds the
// same large string a million times costs little.
func sizeOf(v any, limit int) int {
	m := measurer{limit: limit}
	m.add(v)
	return m.n
}

type measurer struct {
	n, limit int
}

func (m *measurer) over() bool { return m.n > m.limit }

func (m *measurer) add(v any) {
	if m.over() {
		return
	}
	switch x := v.(type) {
	case nil:
		m.n += 4
	case string:
		m.n += len(x) + 2
	case bool:
		m.n += 5
		if x {
			m.n--
		}
	case int64:
		m.n += intLen(x)
	case float64:
		var buf [32]byte
		m.n += len(strconv.AppendFloat(buf[:0], x, 'g', -1, 64))
	case []any:
		m.n += 2 + max(len(x)-1, 0)
		for _, el := range x {
			if m.add(el); m.over() {
				return
			}
		}
	case map[string]any:
		m.n += 2 + max(len(x)-1, 0)
		for k, el := range x {
			m.n += len(k) + 3
			if m.add(el); m.over() {
				return
			}
		}
	case types.String:
		m.n += len(x) + 2
	case types.Bytes:
		// Bytes that are not UTF-8 render as base64.
		m.n += len(x)*4/3 + 4
	case types.Int, types.Uint, types.Double, types.Bool, types.Null, types.Timestamp, types.Duration:
		m.n += 32
	case traits.Lister:
		if native, ok := x.Value().([]any); ok {
			m.add(native)
			return
		}
		n := listLen(x)
		m.n += 2 + max(n-1, 0)
		for i := range n {
			if m.add(x.Get(types.Int(i))); m.over() {
				return
			}
		}
	case traits.Mapper:
		if native, ok := x.Value().(map[string]any); ok {
			m.add(native)
			return
		}
		m.n += 2
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			m.add(k)
			if m.add(x.Get(k)); m.over() {
				return
			}
			m.n += 2
		}
	default:
		m.n += 32
	}
}

func listLen(l traits.Lister) int {
	if n, ok := l.Size().(types.Int); ok && n > 0 {
		return int(min(n, math.MaxInt32))
	}
	return 0
}

func intLen(i int64) int {
	n := 1
	if i < 0 {
		n++
	}
	for i >= 10 || i <= -10 {
		i /= 10
		n++
	}
	return n
}

// sizeText renders a byte limit for messages: 1 MiB, 4 MiB, 512 KiB.
func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// tooLarge is the message of a value over its limit.
func tooLarge(what string, limit int) string {
	return fmt.Sprintf("%s is larger than %s", what, sizeText(limit))
}
