package docgen_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/internal/docgen/bundled"
	"github.com/heraldhq/herald/sdk"
)

// repoRoot is the repository root, seen from this package's directory.
var repoRoot = filepath.Join("..", "..")

// bundledSpecs returns the bundled providers' specs by type.
func bundledSpecs(t testing.TB) map[string]*sdk.Spec {
	t.Helper()
	specs, err := bundled.Specs()
	require.NoError(t, err)
	return docgen.ByType(specs)
}

// projectSpecs returns the specs a project declaring the example project's
// instances would give `herald schema --dir`: every bundled provider under
// its type, plus the instances whatsapp_cc (chitchatlabs) and support
// (chatwoot).
func projectSpecs(t testing.TB) map[string]*sdk.Spec {
	t.Helper()
	specs := bundledSpecs(t)
	specs["whatsapp_cc"] = specs["chitchatlabs"]
	specs["support"] = specs["chatwoot"]
	return specs
}

// compile compiles a generated schema with the draft it declares, which
// also checks it against the draft's meta-schema.
func compile(t testing.TB, schema map[string]any) *jsonschema.Schema {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, docgen.WriteSchema(&buf, schema))
	doc, err := jsonschema.UnmarshalJSON(&buf)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("herald.schema.json", doc))
	s, err := c.Compile("herald.schema.json")
	require.NoError(t, err)
	return s
}

// yamlDocs decodes every document of a YAML file into JSON values, as a
// YAML language server hands them to a schema.
func yamlDocs(t testing.TB, src []byte) []any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err)
		if v == nil {
			continue
		}
		b, err := json.Marshal(v)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		require.NoError(t, err)
		docs = append(docs, doc)
	}
}

// validate checks every document of a YAML file against the schema and
// returns the first failure, or nil.
func validate(t testing.TB, s *jsonschema.Schema, src []byte) error {
	t.Helper()
	for _, doc := range yamlDocs(t, src) {
		if err := s.Validate(doc); err != nil {
			return err
		}
	}
	return nil
}

// loadOptions resolve every provider type to its bundled spec and every
// secret to a fixed value, as a host with all secrets set would.
func loadOptions(t testing.TB) config.LoadOptions {
	specs := bundledSpecs(t)
	return config.LoadOptions{
		Spec: func(typ string) (*sdk.Spec, error) {
			if s, ok := specs[typ]; ok {
				return s, nil
			}
			return nil, errors.New("no plugin " + typ)
		},
		Secret: func(name string) (string, bool) { return "secret-" + strings.ToLower(name), true },
	}
}
