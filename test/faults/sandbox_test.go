package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestProviderFaults sends messages while the sandbox answers one request
// in three with HTTP 500, answers bursts with 429 and Retry-After: 1,
// delays some responses by 2 s, and rejects every send of one provider
// instance with a permanent 400. Every message to the healthy instance is
// delivered, no message is tried again before its Retry-After, and a
// message that met a permanent error is never sent again.
func TestProviderFaults(t *testing.T) {
	t.Parallel()
	eachMode(t, testProviderFaults)
}

func testProviderFaults(t *testing.T, mode string) {
	const (
		good = 40
		bad  = 5
	)
	e := newEnv(t, mode)
	e.extra = append(e.extra, "HERALD_RUN_SLICE=2s")
	e.project(fmt.Sprintf(`provider "rejecting" {
  type   = "chatapi"
  config = { instance_id = "999999", token = "{{ secrets.TOKEN }}", api_url = "%s/chatapi" }
}
workflow "notify" {
  trigger "webhook" {
    path = "notify"
  }
  step "send" {
    uses    = "chatapi.send_message"
    with    = { phone = "{{ trigger.body.phone }}", body = "hello" }
    timeout = "5s"
    retry {
      max_attempts     = 15
      initial_interval = "100ms"
      max_interval     = "1s"
    }
  }
}
workflow "reject" {
  trigger "webhook" {
    path = "reject"
  }
  step "send" {
    uses    = "rejecting.send_message"
    with    = { phone = "{{ trigger.body.phone }}", body = "hello" }
    timeout = "5s"
    retry {
      max_attempts     = 15
      initial_interval = "100ms"
      max_interval     = "1s"
    }
  }
}
`, e.sbURL))
	// The first matching fault applies: the rejecting instance always gets
	// a 400, the rest one 500 in three, and some of what is left 2 s late.
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", PathPrefix: "/instance999999/", Status: http.StatusBadRequest})
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", Status: http.StatusInternalServerError, Every: 3})
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 2000, Every: 8})

	rs := e.startReplicas(2)
	// Bursts of 429 with Retry-After: 1, one every 1.5 s while messages flow.
	stopBursts := make(chan struct{})
	var bursts sync.WaitGroup
	bursts.Go(func() {
		for {
			e.sb.AddFault(sandbox.Fault{Provider: "chatapi", Status: http.StatusTooManyRequests, RetryAfter: 1, Count: 6})
			select {
			case <-stopBursts:
				return
			case <-time.After(1500 * time.Millisecond):
			}
		}
	})

	var ids []string
	goodPhones := phones(good + bad)[:good]
	badPhones := phones(good + bad)[good:]
	for i, p := range goodPhones {
		ids = append(ids, rs[i%len(rs)].hook(t, "notify", map[string]any{"phone": p}, ""))
	}
	var badIDs []string
	for i, p := range badPhones {
		badIDs = append(badIDs, rs[i%len(rs)].hook(t, "reject", map[string]any{"phone": p}, ""))
	}
	runs := e.waitRuns(3*time.Minute, append(ids, badIDs...)...)
	close(stopBursts)
	bursts.Wait()

	// Group the sandbox's requests per phone, in order.
	type req struct {
		at     time.Time
		status int
	}
	perPhone := map[string][]req{}
	statuses := map[int]int{}
	for _, r := range e.sb.Requests("chatapi") {
		var body struct {
			Phone string `json:"phone"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		perPhone[body.Phone] = append(perPhone[body.Phone], req{r.Time, r.Status})
		statuses[r.Status]++
	}
	early, after429 := 0, 0
	minGap := time.Duration(-1)
	for _, rs := range perPhone {
		sort.Slice(rs, func(i, j int) bool { return rs[i].at.Before(rs[j].at) })
		for i := 0; i+1 < len(rs); i++ {
			if rs[i].status != http.StatusTooManyRequests {
				continue
			}
			after429++
			gap := rs[i+1].at.Sub(rs[i].at)
			if minGap < 0 || gap < minGap {
				minGap = gap
			}
			if gap < time.Second {
				early++
			}
		}
	}
	undelivered := 0
	for i, p := range goodPhones {
		delivered := false
		for _, r := range perPhone[p] {
			delivered = delivered || r.status == http.StatusOK
		}
		if !delivered || runs[i].Status != store.StatusSucceeded {
			undelivered++
		}
	}
	// Sends after a permanent error (a 4xx other than 429), of any message.
	resent, permanent := 0, 0
	for _, rs := range perPhone {
		for i, r := range rs {
			if r.status >= 400 && r.status < 500 && r.status != http.StatusTooManyRequests {
				permanent++
				resent += len(rs) - i - 1
				break
			}
		}
	}
	for i := range badPhones {
		require.Equal(t, store.StatusFailed, runs[good+i].Status, "a permanent error fails the run")
	}
	spikes := e.slow.Load()
	msg := fmt.Sprintf("provider fault test (%s, %d replica(s)): %d messages + %d to a rejecting instance, %d requests (status→count %v, %d delayed 2 s): undelivered %d, retries after a 429 %d (earliest %s after it, early %d), permanent 400s %d and sends after them %d",
		mode, len(rs), good, bad, len(e.sb.Requests("chatapi")), statuses, spikes, undelivered, after429, minGap.Round(time.Millisecond), early, permanent, resent)
	testfigures.Report(t, msg)
	require.Zero(t, undelivered, "every message is delivered")
	require.Positive(t, after429, "the test produced 429s")
	require.Zero(t, early, "no retry comes before its Retry-After")
	require.Equal(t, bad, permanent, "each message to the rejecting instance met its 400")
	require.Zero(t, resent, "nothing is sent after a permanent error")
	require.Positive(t, spikes, "the test produced latency spikes")
}
