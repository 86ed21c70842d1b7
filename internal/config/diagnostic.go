package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Range is where an element starts in a project file; lines and columns
// count from 1.
type Range struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String formats the range as file:line:col.
func (r Range) String() string {
	return fmt.Sprintf("%s:%d:%d", r.File, r.Line, r.Col)
}

// Severity tells errors, which make a project unusable, from warnings.
type Severity int

// The severities of a diagnostic.
const (
	Error Severity = iota
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem in a project, at a position in one of its files.
type Diagnostic struct {
	Severity Severity
	File     string
	Line     int
	Col      int
	// Summary says what is wrong, in lower case without a trailing period.
	Summary string
	// Detail adds an explanation or a hint when there is one.
	Detail string
}

// String formats the diagnostic as file:line:col: message (file: message
// when it concerns a whole file or directory); warnings carry a "warning: "
// prefix and a detail follows the summary after ": ".
func (d *Diagnostic) String() string {
	var b strings.Builder
	switch {
	case d.File != "" && d.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", d.File, d.Line, d.Col)
	case d.File != "":
		fmt.Fprintf(&b, "%s: ", d.File)
	}
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// Error implements error with String.
func (d *Diagnostic) Error() string { return d.String() }

// Range returns the diagnostic's position.
func (d *Diagnostic) Range() Range { return Range{File: d.File, Line: d.Line, Col: d.Col} }

// Diagnostics is every problem found while loading a project, sorted by
// file, line and column.
type Diagnostics []*Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d *Diagnostic) bool { return d.Severity == Error })
}

// Errors returns the errors, leaving out warnings.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Err returns the errors as one error, or nil when there are none.
func (ds Diagnostics) Err() error {
	if errs := ds.Errors(); len(errs) > 0 {
		return errs
	}
	return nil
}

// Error formats every diagnostic on its own line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b *Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Summary, b.Summary),
		)
	})
}

// dedupe drops repeated diagnostics; ds must be sorted.
func (ds Diagnostics) dedupe() Diagnostics {
	return slices.CompactFunc(ds, func(a, b *Diagnostic) bool { return *a == *b })
}

// reporter collects diagnostics.
type reporter struct {
	diags Diagnostics
}

func (r *reporter) errorf(at Range, format string, args ...any) {
	r.diags = append(r.diags, &Diagnostic{Severity: Error, File: at.File, Line: at.Line, Col: at.Col, Summary: fmt.Sprintf(format, args...)})
}

func (r *reporter) warnf(at Range, format string, args ...any) {
	r.diags = append(r.diags, &Diagnostic{Severity: Warning, File: at.File, Line: at.Line, Col: at.Col, Summary: fmt.Sprintf(format, args...)})
}
