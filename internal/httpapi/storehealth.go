package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// storeHealth remembers whether the store was last seen taking writes, so
// that an outage is logged once when it starts and once when it ends, not
// once per refused request. Writes that fail with store.ErrUnavailable and
// failed readiness checks mark the store down; a write that succeeds, or a
// readiness check that passes, marks it up.
type storeHealth struct {
	mu    sync.Mutex
	down  bool
	since time.Time
}

// storeFailed notes an error of the store; it logs when the store was up.
func (a *api) storeFailed(err error) {
	h := &a.storeHealth
	h.mu.Lock()
	wasDown := h.down
	if !wasDown {
		h.down, h.since = true, time.Now()
	}
	h.mu.Unlock()
	msg := a.mask(err.Error())
	if wasDown {
		a.log.Debug("store still unavailable", "error", msg)
		return
	}
	a.log.Error("store unavailable: it takes no writes (locked by another process, read-only, unreachable or damaged); triggers get 503 with Retry-After and /readyz reports not ready until it recovers",
		"error", msg)
}

// storeUp notes that the store took a write or passed a readiness check;
// it logs when the store was down.
func (a *api) storeUp() {
	h := &a.storeHealth
	h.mu.Lock()
	wasDown, since := h.down, h.since
	h.down = false
	h.mu.Unlock()
	if wasDown {
		a.log.Info("store available again: it takes writes", "unavailable_for", time.Since(since).Round(time.Millisecond))
	}
}

// storeUnavailable answers a request that failed because the store takes
// no writes now: 503 with Retry-After, so senders try again. On public
// routes the cause stays in the log: it may name the database's host.
func (a *api) storeUnavailable(w http.ResponseWriter, acc access, what string, err error) {
	a.storeFailed(err)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	if acc == public {
		a.fail(w, http.StatusServiceUnavailable, "%s: the store is unavailable; try again later", what)
		return
	}
	a.fail(w, http.StatusServiceUnavailable, "%s: %s", what, err)
}

// isStoreUnavailable reports an error that says the store takes no writes
// now.
func isStoreUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable)
}
