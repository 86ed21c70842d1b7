package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/sdk"
)

// providerWebhook serves POST /providers/{instance}/webhook: the request
// goes to the instance's plugin, which verifies it and turns it into events
// that start the runs of matching event triggers. A replayed delivery
// starts none, so run_ids may be empty.
func (a *api) providerWebhook(w http.ResponseWriter, r *http.Request) {
	instance := r.PathValue("instance")
	p := a.rt.Project()
	if p == nil {
		a.fail(w, http.StatusServiceUnavailable, "no project is loaded")
		return
	}
	if _, ok := p.Providers[instance]; !ok {
		a.fail(w, http.StatusNotFound, "no provider instance %q", instance)
		return
	}
	body, ok := a.readBodyOrFail(w, r)
	if !ok {
		return
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		// A JSON body too deep for the events it becomes is refused
		// before the plugin decodes it.
		if err := engine.CheckJSONDepth(body); err != nil {
			a.fail(w, http.StatusBadRequest, "body: %s", err)
			return
		}
	}
	req := &sdk.WebhookRequest{
		Instance: instance,
		Method:   r.Method,
		Path:     r.URL.Path,
		Header:   r.Header.Clone(),
		Query:    r.URL.Query(),
		Body:     body,
	}
	if req.Body == nil {
		req.Body = []byte{}
	}
	ids, err := a.rt.ProviderWebhook(r.Context(), instance, req)
	if err != nil {
		var uv *sdk.UnverifiedError
		if errors.As(err, &uv) {
			a.fail(w, http.StatusUnauthorized, "%s", uv.Error())
			return
		}
		a.runtimeError(w, r, public, "provider webhook", err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	a.writeJSON(w, http.StatusOK, hookResponse{RunIDs: ids})
}
