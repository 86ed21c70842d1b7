package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/sdk"
	"github.com/stretchr/testify/require"
)

func TestLoadMergesFormats(t *testing.T) {
	t.Parallel()
	// Providers in HCL, workflows in YAML and HCL: one module.
	dir := writeProject(t, map[string]string{
		"providers.hcl": hclProviders,
		"digest.yaml": `workflows:
  digest:
    steps:
      - {id: a, uses: chatapi.send_message, with: {chat_id: x, body: hi}}
`,
		"other.yml": `workflows:
  other:
    steps: [{id: a, uses: chatapi.status}]
`,
		"ignored.json":     `{}`,
		".hidden.hcl":      `not hcl at all {`,
		"nested.hcl/x.hcl": ``,
	})
	p, diags := Load(dir, testOptions())
	require.Empty(t, diags)
	require.Equal(t, []string{"digest", "other"}, p.WorkflowNames())
	require.Equal(t, []string{
		filepath.Join(dir, "digest.yaml"), filepath.Join(dir, "other.yml"), filepath.Join(dir, "providers.hcl"),
	}, p.Files)
}

func TestLoadDirectoryProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, diags := Load(dir, testOptions())
	require.Equal(t, []string{dir + ": no *.hcl, *.yaml or *.yml files in the project directory"}, []string{diags[0].String()})

	missing := filepath.Join(dir, "nope")
	p, diags := Load(missing, testOptions())
	require.Nil(t, p)
	require.True(t, diags.HasErrors())
	require.Contains(t, diags.Error(), missing+": reading project directory")
}

func TestSpecIsAskedOncePerType(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	opts := testOptions()
	inner := opts.Spec
	opts.Spec = func(typ string) (*sdk.Spec, error) {
		calls.Add(1)
		return inner(typ)
	}
	_, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(hclProviders + `
provider "second" {
  type   = "chatapi"
  config = { instance_id = "2", token = "{{ secrets.CHATAPI_TOKEN }}" }
}`)}}, opts)
	require.Empty(t, diags)
	require.Equal(t, int32(1), calls.Load())
}

func TestLoadWithoutSpecsSkipsSchemaChecks(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.Spec = nil
	p, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(hclProviders + `
workflow "w" {
  step "a" {
    uses = "chatapi.anything"
    with = { whatever = 1 }
  }
  step "b" {
    uses = "nope.anything"
  }
}`)}}, opts)
	require.Equal(t, []string{`p.hcl:11:12: unknown provider instance "nope" in uses of step "b" of workflow "w" (declared: chatapi)`}, messages("", diags))
	require.Nil(t, p)
}

func TestSecretsFromEnvironment(t *testing.T) {
	t.Setenv("HERALD_SECRET_CHATAPI_TOKEN", "from-env")
	opts := testOptions()
	opts.Secret = nil
	p, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(hclProviders)}}, opts)
	require.Empty(t, diags)
	require.Equal(t, "from-env", p.Providers["chatapi"].Config["token"])
	require.Equal(t, map[string]string{"CHATAPI_TOKEN": "from-env"}, p.Secrets)
}

func TestDiagnosticsMaskSecrets(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	spec := *testSpecs["chatapi"]
	spec.Config = sdk.Fields(
		sdk.String("instance_id", "").AsRequired(),
		sdk.String("token", "").AsRequired().AsSensitive().Matching(`^[0-9]+$`),
	)
	opts.Spec = func(string) (*sdk.Spec, error) { return &spec, nil }
	_, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(hclProviders)}}, opts)
	require.Equal(t, []string{`p.hcl:2:33: provider "chatapi" config: token: "***" does not match ^[0-9]+$`}, messages("", diags))
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]RateLimit{
		"20/s":     {Count: 20, Per: time.Second, Rate: 20, Burst: 20},
		"100/m":    {Count: 100, Per: time.Minute, Rate: 100.0 / 60, Burst: 100},
		"3600/h":   {Count: 3600, Per: time.Hour, Rate: 1, Burst: 3600},
		"5/10s":    {Count: 5, Per: 10 * time.Second, Rate: 0.5, Burst: 5},
		" 2 / min": {Count: 2, Per: time.Minute, Rate: 2.0 / 60, Burst: 2},
	} {
		got, err := ParseRateLimit(text)
		require.NoError(t, err, text)
		want.Text = text
		require.Equal(t, &want, got, text)
	}
	for _, bad := range []string{"", "20", "0/s", "-1/s", "x/s", "20/fortnight", "20/-1s", "1.5/s"} {
		_, err := ParseRateLimit(bad)
		require.Error(t, err, bad)
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"0 9 * * MON-FRI", "*/30 * * * * *", "@daily", "@every 1m", "@hourly"} {
		_, err := ParseSchedule(ok)
		require.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "* * *", "61 * * * *", "@fortnightly", "@every never", "CRON_TZ=UTC 0 9 * * *", "TZ=UTC 0 9 * * *"} {
		_, err := ParseSchedule(bad)
		require.Error(t, err, bad)
	}
}

func TestDiagnosticFormat(t *testing.T) {
	t.Parallel()
	d := &Diagnostic{File: "w/a.hcl", Line: 3, Col: 7, Summary: "unknown key"}
	require.Equal(t, "w/a.hcl:3:7: unknown key", d.String())
	d.Severity, d.Detail = Warning, "more"
	require.Equal(t, "w/a.hcl:3:7: warning: unknown key: more", d.String())
	ds := Diagnostics{d}
	require.False(t, ds.HasErrors())
	require.NoError(t, ds.Err())
	ds = append(ds, &Diagnostic{File: "w/a.hcl", Line: 1, Col: 1, Summary: "bad"})
	require.Error(t, ds.Err())
	ds.sort()
	require.Equal(t, "bad", ds[0].Summary)
}

func TestMaskValuesLongestFirst(t *testing.T) {
	t.Parallel()
	p := &Project{
		Secrets:   map[string]string{"A": "abc", "B": "abcdef", "EMPTY": ""},
		Providers: map[string]*Provider{"x": {SensitiveValues: []string{"abc", "zz"}}},
	}
	require.Equal(t, []string{"abcdef", "abc", "zz"}, p.MaskValues())
}

func TestYAMLAnchorsAndMerge(t *testing.T) {
	t.Parallel()
	src := yamlProviders + `  a:
    steps:
      - &notify
        id: notify
        uses: chatapi.send_message
        with: &with {chat_id: x, body: hi}
  b:
    steps:
      - <<: *notify
        with:
          <<: *with
          body: overridden
`
	p, diags := LoadSources([]Source{{Name: "m.yaml", Data: []byte(src)}}, testOptions())
	require.Empty(t, diags)
	a, _ := p.Workflows["a"].Step("notify")
	b, _ := p.Workflows["b"].Step("notify")
	require.Equal(t, map[string]any{"chat_id": "x", "body": "hi"}, a.With.Source())
	require.Equal(t, map[string]any{"chat_id": "x", "body": "overridden"}, b.With.Source())
	require.Equal(t, "chatapi", b.Provider)
}

func TestYAMLAliasBombFails(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [*x%d, *x%[3]d, *x%[3]d, *x%[3]d, *x%[3]d, *x%[3]d, *x%[3]d, *x%[3]d, *x%[3]d, *x%[3]d]\n", i, i, i-1)
	}
	start := time.Now()
	_, diags := LoadSources([]Source{{Name: "bomb.yaml", Data: []byte(b.String())}}, testOptions())
	require.Contains(t, diags.Error(), "expands to more than 1000000 values through aliases")
	require.Less(t, time.Since(start), 10*time.Second)
}
