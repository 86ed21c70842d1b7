// Command gendocs writes the documentation Herald generates from the bundled
// providers' declarations: providers.md (the provider reference) and
// herald.schema.json (the JSON Schema of YAML project files). It is run by
// go generate ./internal/docgen:
//
//	go run ./gendocs -out ../../docs
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/internal/docgen/bundled"
)

func main() {
	out := flag.String("out", "docs", "directory to write providers.md and herald.schema.json in")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

func generate(dir string) error {
	specs, err := bundled.Specs()
	if err != nil {
		return err
	}
	files, err := docgen.Files(specs)
	if err != nil {
		return err
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s\n", path)
	}
	return nil
}
