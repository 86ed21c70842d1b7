package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// operationBy names who asked for an operation through the API.
const operationBy = "api"

// operationResponse answers an operation on a run: the run and the status
// it is in after the operation.
type operationResponse struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
}

// retryRequest is the body of POST /api/v1/runs/{id}/retry.
type retryRequest struct {
	FromStep string `json:"from_step"`
}

// resolveRequest is the body of POST /api/v1/runs/{id}/resolve.
type resolveRequest struct {
	Step string `json:"step"`
	Item *int   `json:"item"`
	As   string `json:"as"`
}

// retryRun serves POST /api/v1/runs/{id}/retry {"from_step"?}.
func (a *api) retryRun(w http.ResponseWriter, r *http.Request) {
	var req retryRequest
	if !a.decodeOptional(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	a.operate(w, r, id, "retry run", a.rt.RetryRun(r.Context(), id, req.FromStep, operationBy))
}

// cancelRun serves POST /api/v1/runs/{id}/cancel.
func (a *api) cancelRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.operate(w, r, id, "cancel run", a.rt.CancelRun(r.Context(), id, operationBy))
}

// resolveRun serves POST /api/v1/runs/{id}/resolve {"step","item"?,"as"}.
func (a *api) resolveRun(w http.ResponseWriter, r *http.Request) {
	var req resolveRequest
	if !a.decodeOptional(w, r, &req) {
		return
	}
	if req.Step == "" {
		a.fail(w, http.StatusBadRequest, `step is required: {"step": "<id>", "item": <n>, "as": "sent"|"unsent"}`)
		return
	}
	if req.As != "sent" && req.As != "unsent" {
		a.fail(w, http.StatusBadRequest, `as must be "sent" or "unsent", not %q`, req.As)
		return
	}
	item := store.NoItem
	if req.Item != nil {
		item = *req.Item
	}
	id := r.PathValue("id")
	a.operate(w, r, id, "resolve run", a.rt.ResolveRun(r.Context(), id, req.Step, item, req.As == "sent", operationBy))
}

// signalRun serves POST /api/v1/runs/{id}/signals/{name}; the body, JSON,
// is the signal's data.
func (a *api) signalRun(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBodyOrFail(w, r)
	if !ok {
		return
	}
	if len(body) > 0 && !json.Valid(body) {
		a.fail(w, http.StatusBadRequest, "signal data is not valid JSON")
		return
	}
	id := r.PathValue("id")
	a.operate(w, r, id, "signal run", a.rt.SignalRun(r.Context(), id, r.PathValue("name"), body, operationBy))
}

// decodeOptional decodes a JSON object body into v; an empty body leaves v
// as it is. It answers 400 and returns false on a bad body.
func (a *api) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := a.readBodyOrFail(w, r)
	if !ok {
		return false
	}
	if len(body) == 0 {
		return true
	}
	if err := json.Unmarshal(body, v); err != nil {
		a.fail(w, http.StatusBadRequest, "body is not the JSON object this endpoint takes: %s", err)
		return false
	}
	return true
}

// operate answers an operation on run id that returned err: 202 with the
// run's status after it, or the error's status (404 unknown run, 409 not
// allowed in the run's status, 400 a bad argument).
func (a *api) operate(w http.ResponseWriter, r *http.Request, id, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.fail(w, http.StatusNotFound, "run %q not found", id)
		return
	case errors.Is(err, engine.ErrRunState):
		a.fail(w, http.StatusConflict, "%s", err)
		return
	case err != nil:
		a.runtimeError(w, r, private, what, err)
		return
	}
	resp := operationResponse{RunID: id}
	if run, err := a.rt.Store().GetRun(r.Context(), id); err == nil {
		resp.Status = string(run.ShownStatus(a.opts.Now()))
	}
	a.writeJSON(w, http.StatusAccepted, resp)
}
