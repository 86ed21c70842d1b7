// Package faults holds Herald's fault tests: `herald serve` replicas run as
// subprocesses against the provider sandbox (served by the test process on
// loopback) and are broken on purpose — replicas killed with SIGKILL, a
// provider answering 500s, 429s and slowly, a plugin process killed — while
// the tests check that every run happens exactly once and every message
// reaches the sandbox. Each test prints its figures, so CI logs carry them.
//
// The tests need PostgreSQL (HERALD_TEST_POSTGRES_DSN) for the scale-out
// cases and skip them without it; the single-process SQLite cases always
// run. TestPostgresRestart restarts the server: it is the package's only
// test that is not parallel, so Go runs it before the others start, and it
// holds pgtest's exclusive lock, so PostgreSQL tests of other packages
// (which hold the shared one) never run during the restart. The package has
// no code besides its tests.
package faults
