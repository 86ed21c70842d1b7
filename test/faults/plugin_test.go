package faults

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestKilledPluginIsRelaunched kills (SIGKILL) the provider plugin process
// in the middle of a for_each run: the host relaunches the plugin, the
// calls that were in flight are retried, and the run completes with every
// item delivered.
func TestKilledPluginIsRelaunched(t *testing.T) {
	t.Parallel()
	eachMode(t, testKilledPluginIsRelaunched)
}

func testKilledPluginIsRelaunched(t *testing.T, mode string) {
	const (
		items       = 600
		parallelism = 4
	)
	e := newEnv(t, mode)
	e.project(fmt.Sprintf(`workflow "blast" {
  trigger "webhook" {
    path = "blast"
  }
  step "each" {
    for_each    = "{{ trigger.body.phones }}"
    parallelism = %d
    uses        = "chatapi.send_message"
    with        = { phone = "{{ item }}", body = "item {{ index }}" }
    timeout     = "5s"
    retry {
      max_attempts     = 5
      initial_interval = "200ms"
    }
  }
}
`, parallelism))
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 10})
	r := e.start("r1")
	if mode == modePostgres {
		e.start("r2")
	}
	id := r.hook(t, "blast", map[string]any{"phones": phones(items)}, "")
	sent := func() int { return len(e.sb.Requests("chatapi")) }
	waitFor(t, 2*time.Minute, "a quarter of the items", func() bool { return sent() >= items/4 })

	// The plugin that serves the run: a child of the replica that owns it.
	var owner *replica
	waitFor(t, 30*time.Second, "the run's owner", func() bool {
		run, err := e.store().GetRun(t.Context(), id)
		require.NoError(t, err)
		for _, rep := range e.replicas {
			if rep.pid() == ownerPID(run.Owner) {
				owner = rep
			}
		}
		return owner != nil
	})
	plugins := pluginPIDs(owner.pid())
	require.Len(t, plugins, 1, "one chatapi plugin process")
	require.NoError(t, syscall.Kill(plugins[0], syscall.SIGKILL))
	killedAt := sent()

	run := e.waitRuns(3*time.Minute, id)[0]
	relaunched := pluginPIDs(owner.pid())
	ok, all := deliveries(t, e.sb)
	lost, duplicates := lostAndDuplicates(phones(items), ok, all)
	msg := fmt.Sprintf("plugin fault test (%s): %d items, plugin pid %d killed after %d deliveries, relaunched as %v: run %s, lost %d, sent twice %d (at most %d were in flight)",
		mode, items, plugins[0], killedAt, relaunched, run.Status, lost, duplicates, parallelism)
	testfigures.Report(t, msg)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Error)
	require.Zero(t, lost)
	require.LessOrEqual(t, duplicates, parallelism)
	require.Len(t, relaunched, 1, "the plugin runs again")
	require.NotEqual(t, plugins[0], relaunched[0])
}

// pluginPIDs returns the process ids of the chatapi plugin processes whose
// parent is pid.
func pluginPIDs(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		child, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut at the last ')'.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		fields := strings.Fields(string(rest))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte("herald-provider-chatapi")) {
			out = append(out, child)
		}
	}
	return out
}
