package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// SSEKeepalive is how often an idle event stream sends a comment, so
// proxies and clients keep the connection open and notice a dead one.
var SSEKeepalive = 15 * time.Second

// sseBuffer is how many events a slow client may fall behind before events
// are dropped for it (it is told how many with a comment).
const sseBuffer = 256

// eventJSON is one engine event as the event streams send it.
type eventJSON struct {
	Type       string    `json:"type"`
	Time       time.Time `json:"time"`
	RunID      string    `json:"run_id"`
	Workflow   string    `json:"workflow"`
	StepID     string    `json:"step_id,omitempty"`
	Item       *int      `json:"item,omitempty"`
	Items      int       `json:"items,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	Provider   string    `json:"provider,omitempty"`
	Action     string    `json:"action,omitempty"`
	Status     string    `json:"status,omitempty"`
	Class      string    `json:"class,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	RetryInMS  int64     `json:"retry_in_ms,omitempty"`
	// Rate is an instance's effective calls per second on
	// rate_limit_changed.
	Rate float64 `json:"rate,omitempty"`
}

func (a *api) eventJSON(ev engine.Event) eventJSON {
	out := eventJSON{
		Type: string(ev.Type), Time: ev.Time.UTC(), RunID: ev.RunID, Workflow: ev.Workflow, StepID: ev.StepID,
		Items: ev.Items, Attempt: ev.Attempt, Attempts: ev.Attempts, Provider: ev.Provider, Action: ev.Action,
		Status: ev.Status, Class: ev.Class, Error: a.mask(ev.Error),
		DurationMS: ev.Duration.Milliseconds(), RetryInMS: ev.RetryIn.Milliseconds(), Rate: ev.Rate,
	}
	if ev.Item != store.NoItem {
		item := ev.Item
		out.Item = &item
	}
	return out
}

// runEvents serves GET /api/v1/runs/{id}/events: the run's transitions as
// server-sent events, starting with a "run" event holding its status now.
func (a *api) runEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := a.rt.Store().GetRun(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.fail(w, http.StatusNotFound, "run %q not found", id)
		return
	case err != nil:
		a.runtimeError(w, r, private, "read run", err)
		return
	}
	first := eventJSON{Type: "run", Time: a.opts.Now().UTC(), RunID: run.ID, Workflow: run.Workflow,
		Status: string(run.ShownStatus(a.opts.Now()))}
	a.stream(w, r, func(ev engine.Event) bool { return ev.RunID == id }, &first)
}

// allEvents serves GET /api/v1/events: every run's transitions as
// server-sent events.
func (a *api) allEvents(w http.ResponseWriter, r *http.Request) {
	a.stream(w, r, func(engine.Event) bool { return true }, nil)
}

// stream writes the events keep selects as server-sent events, flushing
// each, with a keepalive comment when idle, until the client goes away.
func (a *api) stream(w http.ResponseWriter, r *http.Request, keep func(engine.Event) bool, first *eventJSON) {
	rc := http.NewResponseController(w)
	// The server's write timeout would cut the stream.
	_ = rc.SetWriteDeadline(time.Time{})
	events := make(chan engine.Event, sseBuffer)
	var dropped atomic.Int64
	unsubscribe := a.rt.Subscribe(func(ev engine.Event) {
		if !keep(ev) {
			return
		}
		select {
		case events <- ev:
		default:
			dropped.Add(1)
		}
	})
	defer unsubscribe()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	seq := 0
	send := func(ev eventJSON) error {
		seq++
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, ev.Type, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if _, err := fmt.Fprint(w, ": herald events\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	if first != nil && send(*first) != nil {
		return
	}
	keepalive := time.NewTicker(SSEKeepalive)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.opts.Done:
			return
		case ev := <-events:
			if n := dropped.Swap(0); n > 0 {
				if _, err := fmt.Fprintf(w, ": dropped %d events; the client fell behind\n\n", n); err != nil {
					return
				}
			}
			if send(a.eventJSON(ev)) != nil {
				return
			}
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
