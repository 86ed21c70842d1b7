package config

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nest returns open n times then close n times.
func nest(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// loadOne loads one file held in memory and returns its diagnostics as
// strings.
func loadOne(t *testing.T, name, content string) (*Project, []string) {
	t.Helper()
	p, diags := LoadSources([]Source{{Name: name, Data: []byte(content)}}, testOptions())
	var out []string
	for _, d := range diags {
		out = append(out, d.String())
	}
	return p, out
}

func TestNestingTooDeep(t *testing.T) {
	t.Parallel()
	deep := 60_000
	cases := []struct {
		name, file, content string
		want                string
	}{
		// The HCL parser overflows the stack on this file, a fatal error.
		{"hcl brackets", "deep.hcl", "workflow \"w\" {\n  vars = { x = " + nest("[", "]", deep) + " }\n}\n", "deep.hcl:2:114: nesting deeper than 100 levels"},
		{"hcl braces", "deep.hcl", "workflow \"w\" {\n  vars = " + nest("{a=", "}", deep) + "\n}\n", "deep.hcl:2:307: nesting deeper than 100 levels"},
		{"hcl parens", "deep.hcl", "x = " + nest("(", ")", deep) + "\n", "deep.hcl:1:105: nesting deeper than 100 levels"},
		{"hcl blocks", "deep.hcl", strings.Repeat("a {\n", deep), "deep.hcl:101:3: nesting deeper than 100 levels"},
		{"hcl templates", "deep.hcl", "x = " + nest(`"${`, `}"`, deep) + "\n", "deep.hcl:1:155: nesting deeper than 100 levels"},
		{"hcl template directives", "deep.hcl", "x = \"" + strings.Repeat("%{ if true }", 20_000) + strings.Repeat("%{ endif }", 20_000) + "\"\n", "deep.hcl:1:1182: nesting deeper than 100 levels"},
		{"hcl heredoc templates", "deep.hcl", "x = <<EOT\n" + nest("${", "}", deep) + "\nEOT\n", "deep.hcl:2:200: nesting deeper than 100 levels"},
		{"hcl unary operators", "deep.hcl", "x = " + strings.Repeat("-", deep) + "1\n", "deep.hcl:1:105: nesting deeper than 100 levels"},
		{"hcl negations", "deep.hcl", "x = " + strings.Repeat("!", deep) + "true\n", "deep.hcl:1:105: nesting deeper than 100 levels"},
		{"hcl binary chain", "deep.hcl", "x = 1" + strings.Repeat("+1", deep) + "\n", "deep.hcl:1:206: nesting deeper than 100 levels"},
		{"hcl conditionals", "deep.hcl", "x = " + strings.Repeat("true ? 1 : ", deep) + "1\n", "deep.hcl:1:1110: nesting deeper than 100 levels"},
		{"hcl index chain", "deep.hcl", "x = a" + strings.Repeat("[0]", deep) + "\n", "deep.hcl:1:303: nesting deeper than 100 levels"},
		{"yaml flow sequences", "deep.yaml", "workflows:\n  w:\n    vars:\n      x: " + nest("[", "]", deep) + "\n", "deep.yaml:4:106: nesting deeper than 100 levels"},
		{"yaml flow mappings", "deep.yaml", "x: " + nest("{a: ", "}", deep) + "\n", "deep.yaml:1:400: nesting deeper than 100 levels"},
		{"yaml block mappings", "deep.yaml", deepYAMLMapping(200), "deep.yaml:101:101: nesting deeper than 100 levels"},
		{"yaml compact sequences", "deep.yaml", "x:\n  " + strings.Repeat("- ", deep) + "1\n", "deep.yaml:2:201: nesting deeper than 100 levels"},
		{"yaml anchored flow", "deep.yaml", "x: &a !!seq " + nest("[", "]", deep) + "\n", "deep.yaml:1:112: nesting deeper than 100 levels"},
		{"yaml document", "deep.yaml", "--- " + nest("[", "]", deep) + "\n", "deep.yaml:1:104: nesting deeper than 100 levels"},
		// Inside a flow collection a bracket ends an anchor: the parser
		// nests on each; the fuzzer's slow input was of this kind.
		{"yaml anchors in flow", "deep.yaml", "x: " + nest("[&a", "]", deep) + "\n", "deep.yaml:1:301: nesting deeper than 100 levels"},
		{"yaml tags in flow", "deep.yaml", "x: " + nest("{a: !!map ", "}", deep) + "\n", "deep.yaml:1:994: nesting deeper than 100 levels"},
		// "a]" is a plain scalar inside a flow mapping: the text pre-scan
		// takes it for a close; the count over the parser's tokens does not.
		{"yaml bracket in a plain scalar", "deep.yaml", "x: {a] " + nest("[", "]", deep) + "}\n", "deep.yaml:1:107: nesting deeper than 100 levels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, diags := loadOne(t, c.file, c.content)
			require.Nil(t, p)
			require.Equal(t, []string{c.want}, diags)
		})
	}
}

// TestSlowYAMLInputsAreBounded loads YAML files that once took the loader
// from seconds to minutes, and bounds the CPU time each takes now. It does
// not run in parallel, so the process's CPU time is its own.
func TestSlowYAMLInputsAreBounded(t *testing.T) {
	const bound = 1500 * time.Millisecond
	cases := []struct{ name, content, want string }{
		// Found by FuzzNestingYAML (testdata/fuzz/FuzzNestingYAML/
		// 63e67b29d0d35ec7): the pre-scan skipped the first anchor to the
		// end of the line, and the parser nested 60,000 levels in time
		// quadratic in depth, then printed its error in time quadratic in
		// the line's length (160 s in all).
		{"anchors in flow", string(nestedFile("workflows:\n  w:\n        :\n      x: ", "[&\xe4\xfd\xbef", "\xba", 60_000, "\xed")), "slow.yaml:4:495: nesting deeper than 100 levels"},
		// 30 s: the text pre-scan reads "a]" as a close.
		{"bracket in a plain scalar", "x: {a] " + nest("[", "]", 60_000) + "}\n", "slow.yaml:1:107: nesting deeper than 100 levels"},
		// 8 s: the parser's error text prints the line around the error.
		{"syntax error on a long line", "x: [" + strings.Repeat("a, ", 80_000) + "}\n", "slow.yaml:1:4: invalid YAML: sequence end token ']' not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := processCPU(t)
			_, diags := loadOne(t, "slow.yaml", c.content)
			took := processCPU(t) - before
			require.Equal(t, []string{c.want}, diags)
			t.Logf("%v of CPU time", took)
			require.Less(t, took, bound, "CPU time to load the file")
		})
	}
}

// processCPU returns the user and system CPU time the test process has used.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func deepYAMLMapping(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", i))
	}
	return b.String()
}

// TestNestingWithinLimit loads files that nest close to the limit, or hold
// brackets where they do not nest (strings, comments, heredocs, block
// scalars): they are not refused.
func TestNestingWithinLimit(t *testing.T) {
	t.Parallel()
	const brackets = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	step := "  step \"s\" {\n    uses = \"chatapi.send_message\"\n    with = { phone = \"1\", body = \"x\" }\n  }\n"
	cases := []struct{ name, file, content string }{
		{"hcl near the limit", "ok.hcl", hclProviders + "workflow \"w\" {\n  vars = { x = " + nest("[", "]", 95) + " }\n" + step + "}\n"},
		{"hcl brackets in text", "ok.hcl", hclProviders + `# ` + brackets + `
// ` + brackets + `
/* ` + brackets + ` */
workflow "w" {
  description = "` + brackets + `\" $${ %%{"
  vars = {
    text = <<EOT
` + brackets + `
"${"{"}"
EOT
    more = <<-EOT
      ` + brackets + `
      EOT
    n = 1 + 2 * 3 - -4
  }
` + step + "}\n"},
		{"yaml near the limit", "ok.yaml", yamlProviders + "  w:\n    vars:\n      x: " + nest("[", "]", 94) + "\n    steps:\n      - {id: s, uses: chatapi.send_message, with: {phone: \"1\", body: x}}\n"},
		{"yaml brackets in text", "ok.yaml", yamlProviders + `  # ` + brackets + `
  w:
    description: "` + brackets + `\""
    vars:
      a: '` + brackets + `'''
      b: plain ` + brackets + `
      c: |
        ` + brackets + `
        ` + brackets + `
      d: >-
        ` + brackets + `
    steps:
      - id: s
        uses: chatapi.send_message
        with: {phone: "1", body: "x [ y"}
`},
		{"yaml deep but shallow by indentation", "ok.yaml", yamlProviders + "  w:\n    vars:\n" + indentedChain(90, 6) + "    steps:\n      - {id: s, uses: chatapi.send_message, with: {phone: \"1\", body: x}}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, diags := loadOne(t, c.file, c.content)
			require.Empty(t, diags)
			require.NotNil(t, p)
		})
	}
}

// indentedChain returns n block mappings, each indented one more space,
// starting at column base.
func indentedChain(n, base int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", base+i))
	}
	fmt.Fprintf(&b, "%s1\n", strings.Repeat(" ", base+n))
	return b.String()
}

func TestFileTooLarge(t *testing.T) {
	t.Parallel()
	big := "# " + strings.Repeat("x", MaxFileSize) + "\n"
	p, diags := loadOne(t, "big.hcl", big)
	require.Nil(t, p)
	require.Equal(t, []string{fmt.Sprintf("big.hcl:1:1: file is larger than 1 MiB (%d bytes): split it into smaller files", len(big))}, diags)

	dir := writeProject(t, map[string]string{"big.yaml": big})
	p, d := Load(dir, testOptions())
	require.Nil(t, p)
	require.Equal(t, []string{fmt.Sprintf("big.yaml:1:1: file is larger than 1 MiB (%d bytes): split it into smaller files", len(big))}, messages(dir, d))
}

// TestNestingAtLimitAllocates loads a YAML workflow whose vars nest just
// under MaxNestingDepth and checks that it costs little more memory than
// the same workflow with flat vars. Not parallel: it measures the whole
// process's allocations.
func TestNestingAtLimitAllocates(t *testing.T) {
	project := func(depth int) []byte {
		return []byte(yamlProviders + "  w:\n    vars:\n      x: " + nest("[", "]", depth) + "\n    steps:\n      - {id: s, uses: chatapi.send_message, with: {phone: \"1\", body: \"{{ vars.x }}\"}}\n")
	}
	load := func(data []byte) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p, diags := LoadSources([]Source{{Name: "w.yaml", Data: data}}, testOptions())
		runtime.ReadMemStats(&after)
		require.Empty(t, diags)
		require.NotNil(t, p)
		return after.TotalAlloc - before.TotalAlloc
	}
	load(project(1)) // warm up the CEL environment's caches
	flat, deep := load(project(1)), load(project(MaxNestingDepth-6))
	t.Logf("flat vars: %d bytes; vars %d deep: %d bytes", flat, MaxNestingDepth-6, deep)
	require.Less(t, deep-min(deep, flat), uint64(512<<10), "loading a file nested to the limit allocates more than 512 KiB beyond a flat one")
}

// TestNestingThroughAliases refuses a YAML file whose aliases nest its
// tree deeper than the limit, though no line of its text does.
func TestNestingThroughAliases(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("a0: &a0 " + nest("[", "]", 40) + "\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "a%d: &a%d %s*a%d%s\n", i, i, strings.Repeat("[", 40), i-1, strings.Repeat("]", 40))
	}
	p, diags := loadOne(t, "alias.yaml", b.String())
	require.Nil(t, p)
	require.Contains(t, diags, "alias.yaml:1:28: nesting deeper than 100 levels once aliases are expanded")
}
