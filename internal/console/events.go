package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/engine"
)

// Tuning of the console's event stream.
const (
	// eventBuffer is how many events wait for a slow browser before the
	// stream tells it to resync instead.
	eventBuffer = 256
	// keepAlive is how often an idle stream sends a comment, so proxies
	// keep it open and a dead browser is noticed.
	keepAlive = 15 * time.Second
)

// eventData is one run or step transition as the console's stream sends
// it: enough for the page to know what to refresh.
type eventData struct {
	Type     string `json:"type"`
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step,omitempty"`
	Status   string `json:"status,omitempty"`
}

// events serves GET /events[?run=ID]: server-sent events of every run's
// transitions (or one run's), authenticated by the session cookie since
// EventSource cannot send an Authorization header. Each is "event: run"
// with eventData; "event: resync" means events were dropped and the page
// should reload what it shows.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("run")
	rc := http.NewResponseController(w)
	// The server's write timeout is for requests, not for a stream.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ch := make(chan engine.Event, eventBuffer)
	overflow := make(chan struct{}, 1)
	unsubscribe := c.b.Subscribe(func(ev engine.Event) {
		if only != "" && ev.RunID != only {
			return
		}
		select {
		case ch <- ev:
		default:
			select {
			case overflow <- struct{}{}:
			default:
			}
		}
	})
	defer unsubscribe()

	fmt.Fprint(w, "retry: 2000\n: herald console events\n\n")
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-overflow:
			fmt.Fprint(w, "event: resync\ndata: {}\n\n")
		case ev := <-ch:
			b, _ := json.Marshal(eventData{Type: string(ev.Type), RunID: ev.RunID, Workflow: ev.Workflow, Step: ev.StepID, Status: ev.Status})
			fmt.Fprintf(w, "event: run\ndata: %s\n\n", b)
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		if rc.Flush() != nil {
			return
		}
	}
}
