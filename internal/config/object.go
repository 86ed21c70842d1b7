package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// object reads the keys of one object node strictly: every key must be
// read, and done reports the unknown and repeated ones.
type object struct {
	r    *reporter
	n    *node
	what string
	keys []string
	used map[string]bool
}

// object starts reading n as an object described by what (such as `step
// "notify"`) whose allowed keys are keys. It reports and returns nil when n
// is not an object.
func newObject(r *reporter, n *node, what string, keys ...string) *object {
	if n == nil {
		return nil
	}
	if n.kind != objectNode {
		r.errorf(n.rng, "%s must be an object, not %s", what, n.kindName())
		return nil
	}
	return &object{r: r, n: n, what: what, keys: keys, used: map[string]bool{}}
}

// get returns the entry for key, or nil when it is absent or null.
func (o *object) get(key string) *entry {
	o.used[key] = true
	e := o.n.entry(key)
	if e == nil || (e.val.kind == scalarNode && e.val.scalar == nil) {
		return nil
	}
	return e
}

// done reports unknown and duplicate keys.
func (o *object) done() {
	seen := map[string]*entry{}
	for _, e := range o.n.entries {
		if first, dup := seen[e.key]; dup {
			if e.block {
				o.r.errorf(e.keyRng, "duplicate %s block in %s; the first is at %s", e.key, o.what, first.keyRng)
			} else {
				o.r.errorf(e.keyRng, "duplicate key %q in %s; the first is at %s", e.key, o.what, first.keyRng)
			}
			continue
		}
		seen[e.key] = e
		if !slices.Contains(o.keys, e.key) {
			o.r.errorf(e.keyRng, "unknown key %q in %s%s", e.key, o.what, suggest(e.key, o.keys))
		}
	}
}

// suggest proposes the closest allowed key, or lists them all.
func suggest(key string, allowed []string) string {
	if len(allowed) == 0 {
		return ""
	}
	best, bestDist := "", 3
	for _, a := range allowed {
		if d := editDistance(key, a); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return " (expected " + strings.Join(allowed, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str reads an optional string key.
func (o *object) str(key string) (string, *entry, bool) {
	e := o.get(key)
	if e == nil {
		return "", nil, false
	}
	s, ok := e.val.scalar.(string)
	if !ok || e.val.kind != scalarNode {
		o.r.errorf(e.val.rng, "%s in %s must be a string, not %s", key, o.what, e.val.kindName())
		return "", e, false
	}
	return s, e, true
}

// required reads a string key that must be present and non-empty.
func (o *object) required(key string) (string, *entry, bool) {
	s, e, ok := o.str(key)
	if e == nil {
		o.r.errorf(o.n.rng, "%s is missing %s", o.what, key)
		return "", nil, false
	}
	if ok && s == "" {
		o.r.errorf(e.val.rng, "%s in %s must not be empty", key, o.what)
		return "", e, false
	}
	return s, e, ok
}

// boolean reads an optional bool key.
func (o *object) boolean(key string, out *bool) {
	e := o.get(key)
	if e == nil {
		return
	}
	b, ok := e.val.scalar.(bool)
	if !ok || e.val.kind != scalarNode {
		o.r.errorf(e.val.rng, "%s in %s must be true or false, not %s", key, o.what, e.val.kindName())
		return
	}
	*out = b
}

// integer reads an optional whole number of at least lo.
func (o *object) integer(key string, lo int, out *int) *entry {
	e := o.get(key)
	if e == nil {
		return nil
	}
	var n int64
	switch v := e.val.scalar.(type) {
	case int64:
		n = v
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > math.MaxInt32 {
			o.r.errorf(e.val.rng, "%s in %s must be a whole number, not %v", key, o.what, v)
			return e
		}
		n = int64(v)
	default:
		o.r.errorf(e.val.rng, "%s in %s must be a number, not %s", key, o.what, e.val.kindName())
		return e
	}
	if n < int64(lo) || n > math.MaxInt32 {
		o.r.errorf(e.val.rng, "%s in %s must be at least %d, not %d", key, o.what, lo, n)
		return e
	}
	*out = int(n)
	return e
}

// number reads an optional number of at least lo.
func (o *object) number(key string, lo float64, out *float64) {
	e := o.get(key)
	if e == nil {
		return
	}
	var f float64
	switch v := e.val.scalar.(type) {
	case int64:
		f = float64(v)
	case float64:
		f = v
	default:
		o.r.errorf(e.val.rng, "%s in %s must be a number, not %s", key, o.what, e.val.kindName())
		return
	}
	if f < lo {
		o.r.errorf(e.val.rng, "%s in %s must be at least %g, not %g", key, o.what, lo, f)
		return
	}
	*out = f
}

// duration reads an optional positive Go duration such as "30s" or "1m30s".
func (o *object) duration(key string, out *time.Duration) *entry {
	s, e, ok := o.str(key)
	if !ok {
		return e
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		o.r.errorf(e.val.rng, "%s in %s must be a duration such as 30s or 1m30s, not %q", key, o.what, s)
		return e
	}
	if d <= 0 {
		o.r.errorf(e.val.rng, "%s in %s must be positive, not %q", key, o.what, s)
		return e
	}
	*out = d
	return e
}

// oneOf reads an optional string key restricted to values.
func (o *object) oneOf(key string, values []string, out *string) {
	s, e, ok := o.str(key)
	if !ok {
		return
	}
	if !slices.Contains(values, s) {
		o.r.errorf(e.val.rng, "%s in %s must be %s, not %q", key, o.what, orList(values), s)
		return
	}
	*out = s
}

// orList renders "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

var (
	instanceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	workflowName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	stepID       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	typeName     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	webhookPath  = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)
)
