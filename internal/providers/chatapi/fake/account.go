package fake

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/sandbox"
)

// The account-level functions take their parameters from the query string
// (or a form body) and answer {"result": …}, as Chat API's did.

// newInstance creates an instance that waits for its phone to be linked: its
// status is "got qr code" until SetAccountStatus says otherwise, so sends
// from it are refused the way Chat API refused them.
func (f *Fake) newInstance(w http.ResponseWriter, r *http.Request) {
	typ := strings.TrimSpace(r.FormValue("type"))
	if typ == "" {
		writeError(w, http.StatusBadRequest, "type is required")
		return
	}
	f.mu.Lock()
	id := strconv.Itoa(f.nextID)
	f.nextID++
	in := &instance{
		id:            id,
		token:         newToken(f.UID, id),
		typ:           typ,
		accountStatus: StatusGotQRCode,
		apiURL:        baseURL(r) + "/instance" + id + "/",
		paidTill:      f.now().Add(30 * 24 * time.Hour).Unix(),
	}
	f.instances[id] = in
	f.mu.Unlock()
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"result": map[string]any{
		"status":   "created",
		"instance": map[string]any{"id": in.id, "token": in.token, "apiUrl": in.apiURL},
	}})
}

func (f *Fake) listInstances(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	f.mu.Lock()
	list := make([]map[string]any, 0, len(f.instances))
	for _, in := range f.sortedInstances() {
		apiURL := in.apiURL
		if apiURL == "" {
			apiURL = base + "/instance" + in.id + "/"
		}
		list = append(list, map[string]any{
			"id":            in.id,
			"name":          in.name,
			"apiUrl":        apiURL,
			"type":          in.typ,
			"stopped":       false,
			"paymentsCount": 0,
			"paidTill":      in.paidTill,
		})
	}
	f.mu.Unlock()
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"result": list})
}

func (f *Fake) deleteInstance(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.FormValue("instanceId"))
	if id == "" {
		writeError(w, http.StatusBadRequest, "instanceId is required")
		return
	}
	f.mu.Lock()
	_, ok := f.instances[id]
	delete(f.instances, id)
	f.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "instance "+id+" not found")
		return
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"result": "deleted"})
}
