// Package docgen turns the declarations Herald already has into
// documentation and editor support: a provider's sdk.Spec into its text and
// markdown reference (what `herald plugins describe` and `herald docs
// providers` print, and docs/providers.md), and the workflow model together
// with the plugins' schemas into the JSON Schema of the YAML project format
// (what `herald schema` prints, and docs/herald.schema.json).
//
// Every page and schema is derived from one declaration, so nothing here
// restates a field, a default or a rule by hand except where the loader's
// rules have no exported form; tests hold those against the loader. The
// package renders; it never loads projects, launches plugins or reads files.
//
// The committed docs/providers.md and docs/herald.schema.json are generated
// from the bundled providers with:
//
//	go generate ./internal/docgen
package docgen

//go:generate go run ./gendocs -out ../../docs
