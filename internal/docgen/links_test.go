package docgen_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/docgen"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	mdFence   = regexp.MustCompile("(?ms)^```.*?^```$")
	// htmlAnchor is an explicit anchor, as `<a id="eager-start"></a>` before
	// a paragraph that is not a heading; GitHub keeps its id.
	htmlAnchor = regexp.MustCompile(`<a id="([^"]+)"></a>`)
)

// anchors returns the fragments the headings of a markdown page get, with
// GitHub's -1, -2 suffixes for repeated headings, and its explicit anchors.
func anchors(page string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	page = mdFence.ReplaceAllString(page, "")
	for _, m := range htmlAnchor.FindAllStringSubmatch(page, -1) {
		out[m[1]] = true
	}
	for _, m := range mdHeading.FindAllStringSubmatch(page, -1) {
		a := docgen.Anchor(m[1])
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestDocLinks checks every link between the pages of docs/: the page
// exists and, when the link names a section, so does the section.
func TestDocLinks(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot, "docs")
	pages, err := filepath.Glob(filepath.Join(dir, "*.md"))
	require.NoError(t, err)
	text := map[string]string{}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		text[filepath.Base(p)] = string(b)
	}
	checked := 0
	for name, page := range text {
		for _, m := range mdLink.FindAllStringSubmatch(mdFence.ReplaceAllString(page, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "../") {
				continue // outside docs/
			}
			file, fragment, _ := strings.Cut(target, "#")
			if file == "" {
				file = name
			}
			other, ok := text[file]
			if !ok {
				_, err := os.Stat(filepath.Join(dir, file))
				require.NoError(t, err, "%s links to %s, which does not exist", name, target)
				continue
			}
			if fragment != "" {
				require.True(t, anchors(other)[fragment], "%s links to %s: %s has no section #%s", name, target, file, fragment)
			}
			checked++
		}
	}
	require.Greater(t, checked, 50)
}
