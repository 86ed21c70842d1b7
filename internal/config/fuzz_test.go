package config

import (
	"encoding/json"
	"testing"
)

// fuzzSeeds adds the golden fixtures and every diagnostic case of the
// format as seeds.
func fuzzSeeds(f *testing.F, golden string, cases []diagCase) {
	f.Add(fixture(f, golden))
	for _, c := range cases {
		for _, content := range c.files {
			f.Add([]byte(content))
		}
	}
}

// checkLoad loads one file and checks the invariants every input keeps: no
// panic, every diagnostic has a position, and a project without errors
// marshals to JSON.
func checkLoad(t *testing.T, name string, data []byte) {
	p, diags := LoadSources([]Source{{Name: name, Data: data}}, testOptions())
	for _, d := range diags {
		if d.File != name || d.Line < 1 || d.Col < 0 {
			t.Fatalf("diagnostic without a position: %#v", d)
		}
	}
	if diags.HasErrors() != (p == nil) {
		t.Fatalf("errors %v but project %v", diags.HasErrors(), p != nil)
	}
	if p != nil {
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("marshalling a valid project: %v", err)
		}
	}
}

func FuzzLoadHCL(f *testing.F) {
	fuzzSeeds(f, "full.hcl", append(hclCases, windowHCLCases...))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, "fuzz.hcl", data)
	})
}

func FuzzLoadYAML(f *testing.F) {
	fuzzSeeds(f, "full.yaml", append(yamlCases, windowYAMLCases...))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, "fuzz.yaml", data)
	})
}
