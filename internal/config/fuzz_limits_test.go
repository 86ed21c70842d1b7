package config

import (
	"strings"
	"testing"
)

// nestedFile builds a file from prefix, open repeated n times, close
// repeated n times and suffix: the fuzzer chooses the fragments and the
// depth, up to sizes past MaxFileSize.
func nestedFile(prefix, open, close string, n uint16, suffix string) []byte {
	if len(open)+len(close) > 64 {
		open, close = open[:min(len(open), 32)], close[:min(len(close), 32)]
	}
	var b strings.Builder
	b.WriteString(prefix)
	for range n {
		b.WriteString(open)
	}
	for range n {
		b.WriteString(close)
	}
	b.WriteString(suffix)
	return []byte(b.String())
}

// treeDepth returns how deeply objects and lists nest in n.
func treeDepth(n *node) int {
	d := 0
	for _, e := range n.entries {
		d = max(d, treeDepth(e.val))
	}
	for _, it := range n.items {
		d = max(d, treeDepth(it))
	}
	if n.kind != scalarNode {
		d++
	}
	return d
}

// checkNesting loads data (which must not crash, however deep, and keeps
// checkLoad's invariants), and checks that a file the limits accept reads
// into a tree no deeper than the limit allows: blocks add at most a few
// levels to what the pre-scan counts.
func checkNesting(t *testing.T, name string, data []byte) {
	checkLoad(t, name, data)
	var r reporter
	if !checkLimits(Source{Name: name, Data: data}, &r) {
		if len(r.diags) != 1 || r.diags[0].Line < 1 || r.diags[0].Col < 1 {
			t.Fatalf("a refused file needs one diagnostic with a position: %v", r.diags)
		}
		return
	}
	l := &loader{}
	for _, root := range l.read(Source{Name: name, Data: data}) {
		if d := treeDepth(root); d > MaxNestingDepth+4 {
			t.Fatalf("the pre-scan let through a tree %d levels deep", d)
		}
	}
}

func FuzzNestingHCL(f *testing.F) {
	for _, seed := range []struct {
		prefix, open, close string
		n                   uint16
		suffix              string
	}{
		{"workflow \"w\" {\n  vars = { x = ", "[", "]", 60000, " }\n}\n"},
		{"workflow \"w\" {\n  vars = ", "{a=", "}", 200, "\n}\n"},
		{"a = ", "(", ")", 300, "\n"},
		{"", "a {\n", "}\n", 150, ""},
		{"x = ", `"${`, `}"`, 150, "\n"},
		{"x = \"", "%{ if true }", "%{ endif }", 150, "\"\n"},
		{"x = <<EOT\n", "${", "}", 150, "\nEOT\n"},
		{"x = ", "-", "", 300, "1\n"},
		{"x = 1", "+1", "", 300, "\n"},
		{"x = ", "true ? 1 : ", "", 300, "1\n"},
		{"x = a", "[0]", "", 300, "\n"},
		{"x = ", "[\"]\",", "]", 150, "\n"},
		{"# ", "[", "", 300, "\nx = 1\n"},
		{"x = \"", "[", "", 65000, "\"\n"},
		{"x = ", "[ # ]\n", "]", 150, "\n"},
		{"x = ", "[ /* ] */", "]", 150, "\n"},
		{"x = [for v in ", "[", "]", 150, " : v]\n"},
	} {
		f.Add(seed.prefix, seed.open, seed.close, seed.n, seed.suffix)
	}
	f.Fuzz(func(t *testing.T, prefix, open, close string, n uint16, suffix string) {
		checkNesting(t, "fuzz.hcl", nestedFile(prefix, open, close, n, suffix))
	})
}

func FuzzNestingYAML(f *testing.F) {
	for _, seed := range []struct {
		prefix, open, close string
		n                   uint16
		suffix              string
	}{
		{"workflows:\n  w:\n    vars:\n      x: ", "[", "]", 60000, "\n"},
		{"x: ", "{a: ", "}", 200, "\n"},
		{"x:\n  ", "- ", "", 300, "1\n"},
		{"x: &a !!seq ", "[", "]", 200, "\n"},
		{"--- ", "[", "]", 200, "\n"},
		{"x: \"", "[", "", 300, "\"\n"},
		{"x: '", "[", "", 300, "'\n"},
		{"x: |\n  ", "[", "", 300, "\n"},
		{"x: ", "[ # ]\n", "]", 150, "\n"},
		{"x: ", "[\"]\", ", "]", 150, "\n"},
		{"x: ", "? [", "]", 150, "\n"},
		{"x: ", "[&a", "]", 300, "\n"},
		{"x: ", "{a: !!map ", "}", 300, "\n"},
		{"x: {a] ", "[", "]", 300, "}\n"},
		{"a: &a ", "[", "]", 60, "\nb: &b [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\nc: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*b]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"},
	} {
		f.Add(seed.prefix, seed.open, seed.close, seed.n, seed.suffix)
	}
	f.Fuzz(func(t *testing.T, prefix, open, close string, n uint16, suffix string) {
		checkNesting(t, "fuzz.yaml", nestedFile(prefix, open, close, n, suffix))
	})
}
