package httpapi

import (
	"context"
	"net/http"
	"strconv"
)

// statusBody answers the health endpoints.
type statusBody struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// healthz serves GET /healthz: the process is up and serving HTTP.
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	a.writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
}

// readyz serves GET /readyz: 200 when the Runtime is ready (plugins up,
// store taking writes), else 503 with the reason.
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	if err := a.rt.Ready(ctx); err != nil {
		if isStoreUnavailable(err) {
			a.storeFailed(err)
		}
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		a.writeJSON(w, http.StatusServiceUnavailable, statusBody{Status: "unavailable", Error: a.mask(err.Error())})
		return
	}
	a.storeUp()
	a.writeJSON(w, http.StatusOK, statusBody{Status: "ready"})
}

// serveMetrics serves GET /metrics in the Prometheus exposition formats.
func (a *api) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if a.metrics == nil {
		a.fail(w, http.StatusNotFound, "metrics are not enabled")
		return
	}
	a.metrics.ServeHTTP(w, r)
}
