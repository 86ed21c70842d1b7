package testplugin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
)

// Fake returns a fake of the echo API that send talks to. POST /messages
// with a ?token= and a JSON body {"message": ...} answers 200 with
// {"id": "msg-<n>", "status": "sent"}; a missing token answers 401 and a
// body without a message 400, each with a JSON error, as the real API would.
func Fake() http.Handler {
	var seq atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /messages", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "missing token"})
			return
		}
		var body struct {
			Message string `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "message is required"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "msg-" + strconv.FormatInt(seq.Add(1), 10), "status": "sent"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
