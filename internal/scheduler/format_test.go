package scheduler_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/scheduler"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestUpcomingGolden pins what `herald schedule WORKFLOW --next N` prints
// across daylight-saving changes: one line per fire in the trigger's
// timezone, with offsets, and a note where DST moved, merged or separated
// fires.
func TestUpcomingGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		schedule, tz, from string
		n                  int
	}{
		{"30 2 * * *", berlin, "2026-03-27 12:00:00", 4},
		{"30 2 * * *", berlin, "2026-10-23 12:00:00", 4},
		{"30 1 * * *", newYork, "2026-10-30 12:00:00", 4},
		{"0 * * * *", newYork, "2026-03-08 00:30:00", 4},
		{"0 * * * *", newYork, "2026-11-01 00:30:00", 4},
		{"*/15 * * * *", berlin, "2026-03-29 01:20:00", 5},
		{"*/20 * * * * *", newYork, "2026-03-08 01:59:10", 4},
		{"0 9 * * MON-FRI", berlin, "2026-03-26 12:00:00", 4},
		{"@every 1h", berlin, "2026-10-25 00:30:00", 4},
		{"@daily", "Australia/Lord_Howe", "2026-04-03 12:00:00", 3},
	}
	var out bytes.Buffer
	for _, tc := range cases {
		tr := cronTrigger(t, tc.schedule, tc.tz)
		fmt.Fprintf(&out, "# %q in %s, next %d after %s\n", tc.schedule, tc.tz, tc.n, tc.from)
		require.NoError(t, scheduler.Format(&out, scheduler.Upcoming(tr, local(t, tc.tz, tc.from), tc.n), tr.Location))
		out.WriteString("\n")
	}
	golden := filepath.Join("testdata", "upcoming.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
}

// TestFormatUsesTheGivenTimezone checks that Format converts fires to loc.
func TestFormatUsesTheGivenTimezone(t *testing.T) {
	t.Parallel()
	tr := cronTrigger(t, "0 9 * * *", berlin)
	fires := scheduler.Upcoming(tr, local(t, berlin, "2026-06-01 00:00:00"), 1)
	var out bytes.Buffer
	require.NoError(t, scheduler.Format(&out, fires, nil))
	require.Equal(t, "Mon 2026-06-01 09:00:00 +02:00 CEST\n", out.String())
	out.Reset()
	require.NoError(t, scheduler.Format(&out, fires, local(t, newYork, "2026-06-01 00:00:00").Location()))
	require.Equal(t, "Mon 2026-06-01 03:00:00 -04:00 EDT\n", out.String())
}
