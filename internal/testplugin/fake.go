package testplugin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Fake returns a fake of the echo API that send talks to. POST /messages
// with a ?token= and a JSON body {"message": ...} answers 200 with
// {"id": "msg-<n>", "status": "sent"}; a missing token answers 401 and a
// body without a message 400, each with a JSON error, as the real API would.
// GET /messages?idempotency_key=K lists the messages posted with that
// Idempotency-Key header, for send's reconcile handler.
func Fake() http.Handler {
	var (
		seq   atomic.Int64
		mu    sync.Mutex
		byKey = map[string][]map[string]any{}
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "missing token"})
			return
		}
		mu.Lock()
		found := append([]map[string]any{}, byKey[r.URL.Query().Get("idempotency_key")]...)
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"messages": found})
	})
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
		msg := map[string]any{"id": "msg-" + strconv.FormatInt(seq.Add(1), 10), "status": "sent"}
		if key := r.Header.Get("Idempotency-Key"); key != "" {
			mu.Lock()
			byKey[key] = append(byKey[key], msg)
			mu.Unlock()
		}
		writeJSON(w, http.StatusOK, msg)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
