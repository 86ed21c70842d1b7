package docgen

import (
	"bytes"

	"github.com/heraldhq/herald/sdk"
)

// The files Files generates, by name in the docs directory.
const (
	ProvidersFile = "providers.md"
	SchemaFile    = "herald.schema.json"
)

// Files renders the generated documentation for the given providers: the
// provider reference (ProvidersFile) and the JSON Schema of YAML project
// files with each provider under its type (SchemaFile). go generate
// ./internal/docgen writes them for the bundled providers into docs/.
func Files(specs []*sdk.Spec) (map[string][]byte, error) {
	var page bytes.Buffer
	if err := ProvidersPage(&page, specs); err != nil {
		return nil, err
	}
	var schema bytes.Buffer
	if err := WriteSchema(&schema, WorkflowSchema(ByType(specs))); err != nil {
		return nil, err
	}
	return map[string][]byte{ProvidersFile: page.Bytes(), SchemaFile: schema.Bytes()}, nil
}

// ByType keys specs by provider type, as WorkflowSchema takes them outside
// a project, where each instance is assumed to be named like its type.
func ByType(specs []*sdk.Spec) map[string]*sdk.Spec {
	out := make(map[string]*sdk.Spec, len(specs))
	for _, s := range specs {
		out[s.Type] = s
	}
	return out
}
