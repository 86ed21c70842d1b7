// Package secrets holds Herald's secret-leak test: `herald serve`, `herald
// validate`, `herald run` and `herald runs` run as subprocesses with the
// bundled plugins and secrets made of every awkward character class, are
// driven through validation errors, provider errors, dry runs and webhooks
// carrying the secrets, and then every byte Herald wrote (stdout, stderr,
// logs, the SQLite files, API responses, metrics) is searched for each
// secret in each encoding it could take. The package has no code besides
// its tests.
package secrets
