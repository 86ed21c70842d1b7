package herald

import (
	"context"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/host"
)

// Severity tells errors, which make a project unusable, from warnings.
type Severity string

// The severities of a Diagnostic.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Diagnostic is one problem in a project, at a position in one of its
// files: a syntax error, an unknown provider action, an input its schema
// rejects, a CEL expression that does not type-check, a missing secret.
type Diagnostic struct {
	Severity Severity
	// File is the file's path (under Dir) or its name in Files; Line and
	// Col count from 1 and are zero when the problem concerns a whole file.
	File string
	Line int
	Col  int
	// Summary says what is wrong; Detail, when set, explains or hints.
	Summary string
	Detail  string
}

// String formats the diagnostic as `herald validate` prints it:
// file:line:col: message, with "warning: " before the message of a warning.
func (d Diagnostic) String() string {
	cd := config.Diagnostic{File: d.File, Line: d.Line, Col: d.Col, Summary: d.Summary, Detail: d.Detail}
	if d.Severity == SeverityWarning {
		cd.Severity = config.Warning
	}
	return cd.String()
}

// Diagnostics are the problems found in a project, sorted by file, line and
// column.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool { return len(ds.Errors()) > 0 }

// Errors returns the errors, leaving out warnings.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// String formats the diagnostics one per line.
func (ds Diagnostics) String() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func diagnostics(cds config.Diagnostics) Diagnostics {
	out := make(Diagnostics, 0, len(cds))
	for _, cd := range cds {
		d := Diagnostic{Severity: SeverityError, File: cd.File, Line: cd.Line, Col: cd.Col, Summary: cd.Summary, Detail: cd.Detail}
		if cd.Severity == config.Warning {
			d.Severity = SeverityWarning
		}
		out = append(out, d)
	}
	return out
}

// InvalidProjectError is returned by New for a project that does not
// validate. Its Diagnostics hold every problem found, warnings included.
type InvalidProjectError struct {
	Diagnostics Diagnostics
}

func (e *InvalidProjectError) Error() string {
	errs := e.Diagnostics.Errors()
	switch len(errs) {
	case 0:
		return "invalid project"
	case 1:
		return "invalid project: " + errs[0].String()
	default:
		return fmt.Sprintf("invalid project: %s (and %d more errors)", errs[0], len(errs)-1)
	}
}

// Validate loads the project opts describes and checks it as New would,
// without opening a store or running anything: HCL and YAML syntax, CEL
// conditions and templates, every uses and with against the provider's
// schema, provider configs and the secrets they read. It returns every
// problem found, warnings included; the project is valid when none is an
// error. The error reports options that cannot be used, not problems of
// the project.
func Validate(ctx context.Context, opts Options) (Diagnostics, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	secrets := host.NewSecrets(opts.Secrets)
	logger, _ := opts.logger(secrets.Values())
	plugins, err := opts.pluginHost(logger)
	if err != nil {
		return nil, err
	}
	defer plugins.Close()
	ho := host.Options{Dir: opts.Dir, Sources: opts.sources(), Secrets: secrets, Logger: logger}
	_, diags := host.Load(ctx, ho, plugins)
	return diagnostics(diags), nil
}
