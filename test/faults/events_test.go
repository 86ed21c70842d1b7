package faults

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sseRunsFinished follows the event stream at url and records the run of
// every run_finished event it carries, until the test ends.
func sseRunsFinished(t *testing.T, url string) (seen func() map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var (
		mu       sync.Mutex
		finished = map[string]string{}
	)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok && event == "run_finished" {
				var ev struct {
					RunID  string `json:"run_id"`
					Status string `json:"status"`
				}
				if json.Unmarshal([]byte(v), &ev) == nil {
					mu.Lock()
					finished[ev.RunID] = ev.Status
					mu.Unlock()
				}
			}
		}
	}()
	return func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]string, len(finished))
		for k, v := range finished {
			out[k] = v
		}
		return out
	}
}

// runsFinishedHere sums herald_runs_total on r's /metrics: the runs its own
// engine executed to the end.
func (r *replica) runsFinishedHere(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "herald_runs_total{"); ok {
			_, v, _ := strings.Cut(rest, "} ")
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			total += int(n)
		}
	}
	return total
}

// A console on one replica sees every run go live, whichever replica
// executes it: the event stream of r1 (GET /api/v1/events; a run's own
// stream filters the same events) carries the run_finished of the runs r2
// executed.
func TestEventStreamsCarryEveryReplicasRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, modePostgres)
	e.project(`
workflow "hello" {
  trigger "webhook" {
    path = "hello"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hello {{ trigger.body.n }}" }
  }
}`)
	rs := e.startReplicas(2)
	all := sseRunsFinished(t, "http://"+rs[0].addr+"/api/v1/events")

	// Runs go to whichever replica takes the job first: webhooks go on
	// until r2 has executed some (and r1 some, if it takes any).
	var ids []string
	deadline := time.Now().Add(time.Minute)
	for len(ids) < 10 || rs[1].runsFinishedHere(t) < 3 {
		require.True(t, time.Now().Before(deadline), "r2 executed %d of %d runs within a minute", rs[1].runsFinishedHere(t), len(ids))
		ids = append(ids, rs[1].hook(t, "hello", map[string]any{"n": len(ids)}, ""))
		e.waitRuns(30*time.Second, ids[len(ids)-1])
	}
	byR2 := rs[1].runsFinishedHere(t)
	require.Eventually(t, func() bool {
		seen := all()
		for _, id := range ids {
			if seen[id] != "succeeded" {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "r1's event stream shows every run finish, %d of them executed by r2", byR2)
	t.Logf("r1's event stream showed all %d runs finish; r2 executed %d of them", len(ids), byR2)
}
