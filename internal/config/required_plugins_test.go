package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/sdk"
	"github.com/stretchr/testify/require"
)

// TestRequiredPlugins checks that required_plugins constraints are checked
// against the version the plugin describes, and that every problem is
// reported at the line of the offending attribute, in HCL and in YAML.
func TestRequiredPlugins(t *testing.T) {
	t.Parallel()
	versions := map[string]string{"telegram": "1.1.0", "smsgw": "1.4.2", "nover": ""}
	opts := LoadOptions{Spec: func(typ string) (*sdk.Spec, error) {
		v, ok := versions[typ]
		if !ok {
			return nil, errors.New("no herald-provider-" + typ + " in /plugins")
		}
		return &sdk.Spec{Type: typ, Version: v}, nil
	}}
	cases := []struct {
		name, hcl, yaml string
		want            []string
	}{
		{
			name: "satisfied",
			hcl:  "required_plugins {\n  smsgw = { version = \">= 1.2, < 2.0\" }\n}\n",
			yaml: "required_plugins:\n  smsgw: {version: \">= 1.2, < 2.0\"}\n",
		},
		{
			name: "too old",
			hcl:  "required_plugins {\n  telegram = { version = \">= 1.2, < 2.0\" }\n}\n",
			yaml: "required_plugins:\n  telegram:\n    version: \">= 1.2, < 2.0\"\n",
			want: []string{`:2: required plugin "telegram" is version 1.1.0, which does not satisfy ">= 1.2, < 2.0"; install a matching version (herald plugins install)`,
				`:3: required plugin "telegram" is version 1.1.0, which does not satisfy ">= 1.2, < 2.0"; install a matching version (herald plugins install)`},
		},
		{
			name: "pessimistic",
			hcl:  "required_plugins {\n  smsgw = { version = \"~> 1.5\" }\n}\n",
			yaml: "required_plugins:\n  smsgw: {version: \"~> 1.5\"}\n",
			want: []string{`:2: required plugin "smsgw" is version 1.4.2, which does not satisfy "~> 1.5"`, `:2: required plugin "smsgw" is version 1.4.2, which does not satisfy "~> 1.5"`},
		},
		{
			name: "missing plugin",
			hcl:  "required_plugins {\n  absent = { version = \">= 1\" }\n}\n",
			yaml: "required_plugins:\n  absent: {version: \">= 1\"}\n",
			want: []string{`:2: required plugin "absent": no herald-provider-absent in /plugins`, `:2: required plugin "absent": no herald-provider-absent in /plugins`},
		},
		{
			name: "no version reported",
			hcl:  "required_plugins {\n  nover = { version = \">= 1\" }\n}\n",
			yaml: "required_plugins:\n  nover: {version: \">= 1\"}\n",
			want: []string{`:2: required plugin "nover" reports no version`, `:2: required plugin "nover" reports no version`},
		},
		{
			name: "bad constraint",
			hcl:  "required_plugins {\n  smsgw = { version = \"newest\" }\n}\n",
			yaml: "required_plugins:\n  smsgw: {version: newest}\n",
			want: []string{`:2: required plugin "smsgw": invalid version constraint "newest"`, `:2: required plugin "smsgw": invalid version constraint "newest"`},
		},
		{
			name: "unknown key",
			hcl:  "required_plugins {\n  smsgw = { version = \">= 1\", source = \"x\" }\n}\n",
			yaml: "required_plugins:\n  smsgw: {version: \">= 1\", source: x}\n",
			want: []string{`:2: unknown key "source" in required plugin "smsgw"`, `:2: unknown key "source" in required plugin "smsgw"`},
		},
		{
			name: "missing version",
			hcl:  "required_plugins {\n  smsgw = {}\n}\n",
			yaml: "required_plugins:\n  smsgw: {}\n",
			want: []string{`:2: required plugin "smsgw" is missing version`, `:2: required plugin "smsgw" is missing version`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i, src := range []Source{{Name: "p.hcl", Data: []byte(tc.hcl)}, {Name: "p.yaml", Data: []byte(tc.yaml)}} {
				p, diags := LoadSources([]Source{src}, opts)
				if len(tc.want) == 0 {
					require.Empty(t, diags, src.Name)
					require.NotNil(t, p.RequiredPlugins["smsgw"], src.Name)
					continue
				}
				require.True(t, diags.HasErrors(), src.Name)
				line, msg, _ := strings.Cut(tc.want[i], ": ")
				require.Len(t, diags, 1, diags.Error())
				require.Equal(t, src.Name, diags[0].File)
				require.Equal(t, line, ":"+strconv.Itoa(diags[0].Line), diags.Error())
				require.Contains(t, diags[0].Summary, msg)
			}
		})
	}
}

// TestRequiredPluginsIsABlockInHCL checks that the attribute form is
// refused with a hint, like the other blocks.
func TestRequiredPluginsIsABlockInHCL(t *testing.T) {
	t.Parallel()
	_, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte("required_plugins = { smsgw = { version = \">= 1\" } }\n")}}, LoadOptions{})
	require.Contains(t, diags.Error(), "write required_plugins as a block")
}

// FuzzVersionConstraint checks that no constraint text panics the parser or
// the check.
func FuzzVersionConstraint(f *testing.F) {
	for _, s := range []string{">= 1.2, < 2.0", "~> 1.4", "= 1.0.0", "!= 1.2", "", ">=", "1.2.3-beta+x"} {
		f.Add(s, "1.3.0")
	}
	f.Fuzz(func(t *testing.T, constraint, v string) {
		c, err := ParseVersionConstraint(constraint)
		if err != nil {
			return
		}
		r := &PluginRequirement{Version: constraint, constraints: c}
		_ = r.Allows(v)
	})
}
