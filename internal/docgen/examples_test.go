package docgen_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/docgen"
)

// The docs mark the code blocks a test checks with an HTML comment on the
// line before the fence, which renders as nothing:
//
//	<!-- example: NAME -->           the ```hcl or ```yaml block that follows is
//	                                 project NAME, complete in itself
//	<!-- example: NAME uses=OTHER --> the block is loaded together with the
//	                                 HCL file of example OTHER
//	<!-- example: NAME invalid -->   the block must fail to load
//	<!-- output: NAME -->            the ```text block that follows is what
//	                                 herald validate prints for NAME
//
// An example may be written once in HCL and once in YAML: both must decode
// to the same model. YAML examples must also pass the JSON Schema that
// `herald schema --dir` would print for them.
var marker = regexp.MustCompile(`^<!-- (example|output): ([a-z0-9-]+)((?: [a-z]+(?:=[a-z0-9-]+)?)*) -->$`)

// docExample is one project written in a doc.
type docExample struct {
	name    string
	at      string // doc:line of its first block
	uses    string
	invalid bool
	files   map[string]string // by language: hcl or yaml
	output  *string
}

// readExamples collects the marked blocks of a markdown file.
func readExamples(t *testing.T, path string, into map[string]*docExample) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	for {
		text, ok := next()
		if !ok {
			break
		}
		m := marker.FindStringSubmatch(strings.TrimSpace(text))
		if m == nil {
			if l := strings.TrimSpace(text); strings.HasPrefix(l, "<!-- example") || strings.HasPrefix(l, "<!-- output") {
				t.Fatalf("%s:%d: malformed marker %q", path, line, text)
			}
			continue
		}
		at := fmt.Sprintf("%s:%d", filepath.Base(path), line)
		fence, ok := next()
		require.True(t, ok, "%s: a marker must precede a fenced block", at)
		lang, isFence := strings.CutPrefix(fence, "```")
		require.True(t, isFence, "%s: a marker must be followed by a fenced block, not %q", at, fence)
		var body strings.Builder
		for {
			l, ok := next()
			require.True(t, ok, "%s: unclosed block", at)
			if l == "```" {
				break
			}
			body.WriteString(l + "\n")
		}
		ex := into[m[2]]
		if ex == nil {
			ex = &docExample{name: m[2], at: at, files: map[string]string{}}
			into[m[2]] = ex
		}
		if m[1] == "output" {
			require.Equal(t, "text", lang, "%s: an output block is ```text", at)
			out := body.String()
			ex.output = &out
			continue
		}
		require.Contains(t, []string{"hcl", "yaml"}, lang, "%s: an example is ```hcl or ```yaml", at)
		require.NotContains(t, ex.files, lang, "%s: example %s has two %s blocks", at, ex.name, lang)
		ex.files[lang] = body.String()
		for _, opt := range strings.Fields(m[3]) {
			switch k, v, _ := strings.Cut(opt, "="); k {
			case "uses":
				ex.uses = v
			case "invalid":
				ex.invalid = true
			default:
				t.Fatalf("%s: unknown marker option %q", at, opt)
			}
		}
	}
	require.NoError(t, sc.Err())
}

// TestDocExamples loads every marked example of docs/*.md with the bundled
// plugins' schemas, as `herald validate` would with all secrets set.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	examples := map[string]*docExample{}
	for _, d := range docs {
		readExamples(t, d, examples)
	}
	require.Contains(t, examples, "spec-project", "workflow-language.md shows the project of the spec")
	names := make([]string, 0, len(examples))
	for name := range examples {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ex := examples[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, ex.files, "%s: output without an example", ex.at)
			var models []string
			for _, lang := range []string{"hcl", "yaml"} {
				src, ok := ex.files[lang]
				if !ok {
					continue
				}
				sources := []config.Source{{Name: "workflows/" + name + "." + lang, Data: []byte(src)}}
				if ex.uses != "" {
					other, ok := examples[ex.uses]
					require.True(t, ok && other.files["hcl"] != "", "%s: uses=%s names no HCL example", ex.at, ex.uses)
					sources = append([]config.Source{{Name: "workflows/" + ex.uses + ".hcl", Data: []byte(other.files["hcl"])}}, sources...)
				}
				p, diags := config.LoadSources(sources, loadOptions(t))
				if ex.invalid {
					require.True(t, diags.HasErrors(), "%s (%s): the example is marked invalid but loads", ex.at, lang)
					if ex.output != nil {
						var got strings.Builder
						for _, d := range diags {
							got.WriteString(d.String() + "\n")
						}
						require.Equal(t, *ex.output, got.String(), "%s (%s): the output shown is not what validate prints", ex.at, lang)
					}
					continue
				}
				require.Empty(t, diags, "%s (%s): the example must load without errors or warnings", ex.at, lang)
				js, err := json.MarshalIndent(p, "", "  ")
				require.NoError(t, err)
				models = append(models, string(js))
				if lang == "yaml" {
					specs := bundledSpecs(t)
					for inst, prov := range p.Providers {
						specs[inst] = prov.Spec
					}
					require.NoError(t, validate(t, compile(t, docgen.WorkflowSchema(specs)), []byte(src)), "%s: the YAML example against the schema", ex.at)
				}
			}
			if len(models) == 2 {
				require.Equal(t, models[0], models[1], "%s: the HCL and YAML versions of %s differ", ex.at, name)
			}
		})
	}
}

// guideRegion finds the "guide:begin NAME" regions of a Go file.
var guideRegion = regexp.MustCompile(`(?ms)^// guide:begin ([a-z]+)\n(.*?)\n// guide:end\n`)

// TestPluginGuideCode requires every ```go block of docs/plugin-authors.md
// marked <!-- go: NAME --> to be the region NAME of guide_provider_test.go,
// whose provider the tests of this package compile and run, and every
// region to be shown.
func TestPluginGuideCode(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("guide_provider_test.go")
	require.NoError(t, err)
	regions := map[string]string{}
	for _, m := range guideRegion.FindAllStringSubmatch(string(src), -1) {
		regions[m[1]] = strings.TrimSpace(m[2])
	}
	require.NotEmpty(t, regions)

	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "plugin-authors.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?ms)^<!-- go: ([a-z]+) -->\n```go\n(.*?)\n```\n").FindAllStringSubmatch(string(doc), -1)
	shown := map[string]bool{}
	for _, b := range blocks {
		want, ok := regions[b[1]]
		require.True(t, ok, "plugin-authors.md shows region %q, which guide_provider_test.go does not have", b[1])
		require.Equal(t, want, strings.TrimSpace(b[2]), "plugin-authors.md: the code of region %q differs from guide_provider_test.go", b[1])
		shown[b[1]] = true
	}
	for name := range regions {
		require.True(t, shown[name], "plugin-authors.md does not show region %q", name)
	}
}
