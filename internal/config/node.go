package config

import (
	"fmt"
	"strconv"
	"strings"
)

// node is a format-neutral syntax tree. The HCL and YAML readers both
// produce it, shaped like the YAML form (an HCL step block becomes an item of
// the steps list with its label as id), so that one decoder, with one set of
// messages, turns either into the model.
type node struct {
	kind    nodeKind
	scalar  any // string, bool, int64, float64 or nil
	entries []*entry
	items   []*node
	rng     Range
}

type nodeKind uint8

const (
	scalarNode nodeKind = iota
	objectNode
	listNode
)

// entry is one key of an object node.
type entry struct {
	key    string
	keyRng Range
	val    *node
	// block is set when the entry came from an HCL block rather than an
	// attribute, for messages.
	block bool
}

// kindName names what a node holds, for messages.
func (n *node) kindName() string {
	switch n.kind {
	case objectNode:
		return "an object"
	case listNode:
		return "a list"
	}
	switch n.scalar.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case int64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", n.scalar)
}

// plain converts the node to a plain Go value (string, bool, int64,
// float64, nil, []any, map[string]any), reporting duplicate keys.
func (n *node) plain(r *reporter) any {
	switch n.kind {
	case objectNode:
		m := make(map[string]any, len(n.entries))
		seen := make(map[string]*entry, len(n.entries))
		for _, e := range n.entries {
			if first, dup := seen[e.key]; dup {
				r.errorf(e.keyRng, "duplicate key %q; the first is at %s", e.key, first.keyRng)
				continue
			}
			seen[e.key] = e
			m[e.key] = e.val.plain(r)
		}
		return m
	case listNode:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = it.plain(r)
		}
		return l
	}
	return n.scalar
}

// lookup returns the range of the value at path ("to.mobile",
// "params[1]") inside n, or of its nearest existing ancestor, and how many
// segments of the path it found. The last key found is reported where the
// key is written, so an unknown key points at itself.
func (n *node) lookup(path string) (Range, int) {
	cur, at, depth := n, n.rng, 0
	for _, seg := range splitPath(path) {
		switch {
		case seg.index >= 0 && cur.kind == listNode && seg.index < len(cur.items):
			cur = cur.items[seg.index]
			at = cur.rng
		case seg.index < 0 && cur.kind == objectNode && cur.entry(seg.key) != nil:
			e := cur.entry(seg.key)
			cur = e.val
			at = e.keyRng
		default:
			return at, depth
		}
		depth++
	}
	return at, depth
}

// keyOrValue returns where the value at path inside e's value is written,
// or e's key when the path names nothing there, such as a missing required
// field.
func keyOrValue(e *entry, path string) Range {
	if path == "" {
		return e.keyRng
	}
	if at, depth := e.val.lookup(path); depth > 0 {
		return at
	}
	return e.keyRng
}

// entry returns the first entry named key.
func (n *node) entry(key string) *entry {
	for _, e := range n.entries {
		if e.key == key {
			return e
		}
	}
	return nil
}

type pathSegment struct {
	key   string
	index int
}

// splitPath splits "to.mobile" or "params[1].x" into segments.
func splitPath(path string) []pathSegment {
	var segs []pathSegment
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			continue
		}
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			segs = append(segs, pathSegment{key: key, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			if !ok {
				break
			}
			if i, err := strconv.Atoi(num); err == nil {
				segs = append(segs, pathSegment{index: i})
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs
}
