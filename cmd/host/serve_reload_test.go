package main

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
)

func TestServeHotReload(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "greet" {
  trigger "webhook" {
    path = "greet"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "version one" }
  }
}`)
	e.start()
	code, _ := e.post("/hooks/greet", []byte(`{}`), nil)
	require.Equal(t, http.StatusAccepted, code)

	// A valid change is picked up without a restart.
	writeFile(t, filepath.Join(e.dir, "workflows.hcl"), `
workflow "greet" {
  trigger "webhook" {
    path = "hello"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "version two" }
  }
}`)
	e.eventually(20*time.Second, "the new webhook path is served", func() bool {
		code, _ := e.post("/hooks/hello", []byte(`{}`), nil)
		return code == http.StatusAccepted
	})
	code, _ = e.post("/hooks/greet", []byte(`{}`), nil)
	require.Equal(t, http.StatusNotFound, code, "the old path is gone")
	e.eventually(10*time.Second, "version two was sent", func() bool { return sandboxBodies(e, "version two") >= 1 })

	// An invalid change is logged and the running project stays.
	writeFile(t, filepath.Join(e.dir, "workflows.hcl"), `
workflow "greet" {
  trigger "webhook" {
    path = "broken"
  }
  step "s" {
    uses = "chatapi.no_such_action"
  }
}`)
	e.eventually(20*time.Second, "the invalid project was refused", func() bool {
		return strings.Contains(e.log.String(), "still serving the previous version")
	})
	require.Contains(t, e.log.String(), `has no action "no_such_action"`)
	code, _ = e.post("/hooks/hello", []byte(`{}`), nil)
	require.Equal(t, http.StatusAccepted, code, "the previous project keeps serving")

	// SIGHUP reloads too, once the file is fixed.
	writeFile(t, filepath.Join(e.dir, "workflows.hcl"), `
workflow "greet" {
  trigger "webhook" {
    path = "sighup"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "version three" }
  }
}`)
	require.NoError(t, e.cmd.Process.Signal(syscall.SIGHUP))
	e.eventually(20*time.Second, "the fixed project is served", func() bool {
		code, _ := e.post("/hooks/sighup", []byte(`{}`), nil)
		return code == http.StatusAccepted
	})
	require.Equal(t, 0, e.stop())
}

func sandboxBodies(e *serveEnv, text string) int {
	n := 0
	for _, r := range e.sandbox.Requests("chatapi") {
		if strings.Contains(string(r.Body), text) {
			n++
		}
	}
	return n
}

func TestServeConcurrencyLimits(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "queued" {
  trigger "webhook" {
    path = "queued"
  }
  concurrency {
    limit    = 1
    on_limit = "queue"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "queued {{ trigger.body.n }}" }
  }
}
workflow "skipping" {
  trigger "webhook" {
    path = "skipping"
  }
  concurrency {
    limit    = 1
    on_limit = "skip"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550124", body = "skipping {{ trigger.body.n }}" }
  }
}`)
	// Every send takes 400 ms, so runs overlap unless the limit holds them.
	e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 400})
	e.start()
	var wg sync.WaitGroup
	for i := range 4 {
		for _, path := range []string{"/hooks/queued", "/hooks/skipping"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := e.post(path, []byte(`{"n":`+strconv.Itoa(i)+`}`), nil)
				require.Equal(t, http.StatusAccepted, code)
			}()
		}
	}
	wg.Wait()
	e.eventually(30*time.Second, "every queued run finished", func() bool {
		runs := e.runs("queued")
		if len(runs) != 4 {
			return false
		}
		for _, r := range runs {
			if r.Status != "succeeded" {
				return false
			}
		}
		return true
	})
	// queue: the four sends never overlapped.
	var sends []time.Time
	for _, r := range e.sandbox.Requests("chatapi") {
		if strings.Contains(string(r.Body), "queued") {
			sends = append(sends, r.Time)
		}
	}
	require.Len(t, sends, 4)
	for i := 1; i < len(sends); i++ {
		require.GreaterOrEqual(t, sends[i].Sub(sends[i-1]), 350*time.Millisecond, "runs of a limit-1 workflow run one at a time")
	}
	// skip: the runs started at the limit were skipped, not queued.
	e.eventually(10*time.Second, "the skipping runs ended", func() bool {
		for _, r := range e.runs("skipping") {
			if r.Status != "succeeded" && r.Status != "skipped" {
				return false
			}
		}
		return len(e.runs("skipping")) == 4
	})
	skipped := 0
	for _, r := range e.runs("skipping") {
		if r.Status == "skipped" {
			skipped++
		}
	}
	require.GreaterOrEqual(t, skipped, 1, "on_limit = skip records the runs beyond the limit as skipped")
	require.Equal(t, 4-skipped, sandboxBodies(e, "skipping"))
	require.Equal(t, 0, e.stop())
}
