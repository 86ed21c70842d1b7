// Package config owns Herald's project model and its loading: it reads a
// project directory of *.hcl, *.yaml and *.yml files, merges them like a
// Terraform module, decodes providers and workflows into one model, compiles
// every condition and template with package expr, checks every step and
// trigger against the provider plugins' schemas, resolves the secrets that
// provider config and webhook secrets read, and reports every problem as a
// Diagnostic at its file:line:col.
//
// It must not run anything: it does not start plugins (schemas reach it
// through LoadOptions.Spec), evaluate step templates, touch the store or
// schedule triggers. A Project it returns is immutable and safe to share
// between goroutines.
package config
