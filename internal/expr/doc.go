// Package expr owns Herald's expression language: CEL conditions (a
// workflow's when, a step's if) and {{ CEL }} value templates in any string
// of a step's with, override and for_each, a workflow's vars, a provider's
// config and a webhook's secret.
//
// Everything is compiled and type-checked once, by a Compiler, when a project
// loads; a compiled Condition or Value is then evaluated many times against a
// Scope that the engine fills for each run. Compiled values are safe for
// concurrent use.
//
// The package knows nothing about files, providers or plugins: it reports
// problems with an expression as *Error values carrying a path inside the
// value ("to.mobile", "params[1]"), and callers map those paths to source
// positions. It must not do I/O, read the environment or resolve secrets
// itself; secret values reach it only through a Scope.
package expr
