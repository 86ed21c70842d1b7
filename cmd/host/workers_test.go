package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestServeDefaultWorkers serves a project without --workers: a single host
// (SQLite) executes 64 runs at once, a replica of a cluster (a postgres://
// store) 256, and HERALD_WORKERS sets either.
func TestServeDefaultWorkers(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	const workflows = `
workflow "greet" {
  trigger "manual" {}
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}`
	workers := regexp.MustCompile(`herald is serving.* workers=(\d+)`)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"sqlite", nil, nil, "64"},
		{"postgres", []string{"--store", dsn}, nil, "256"},
		{"postgres with HERALD_WORKERS", []string{"--store", dsn}, []string{"HERALD_WORKERS=8"}, "8"},
	} {
		e := newServeEnv(t, workflows)
		e.args, e.env = tc.args, tc.env
		e.start()
		e.eventually(30*time.Second, tc.name+": the serving line", func() bool { return workers.MatchString(e.log.String()) })
		require.Equal(t, 0, e.stop(), "%s: %s", tc.name, e.log)
		m := workers.FindStringSubmatch(e.log.String())
		require.NotNil(t, m, "%s: no serving line in the log:\n%s", tc.name, e.log)
		require.Equal(t, tc.want, m[1], tc.name)
	}
}
