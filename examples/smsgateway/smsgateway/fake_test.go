package smsgateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sync"
)

// fakeGateway stands in for the SMS gateway API in tests: it serves
// POST /messages with the real API's authentication, validation and answers,
// honours Idempotency-Key, and records the messages it accepted.
type fakeGateway struct {
	token string

	mu       sync.Mutex
	messages []fakeMessage
	byKey    map[string]fakeMessage
}

// fakeMessage is a message the fake accepted.
type fakeMessage struct {
	ID, To, Text, IdempotencyKey string
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func newFakeGateway(token string) *fakeGateway {
	return &fakeGateway{token: token, byKey: map[string]fakeMessage{}}
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/messages" {
		answer(w, http.StatusNotFound, map[string]any{"error": "no such endpoint: " + r.Method + " " + r.URL.Path})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		answer(w, http.StatusUnauthorized, map[string]any{"error": "invalid or missing bearer token"})
		return
	}
	var in struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		answer(w, http.StatusBadRequest, map[string]any{"error": "body is not JSON: " + err.Error()})
		return
	}
	if !e164.MatchString(in.To) || in.Text == "" {
		answer(w, http.StatusBadRequest, map[string]any{"error": "to must be an E.164 number and text must not be empty"})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.byKey[key]; ok && key != "" {
		answer(w, http.StatusOK, map[string]any{"id": m.ID, "status": "queued"})
		return
	}
	m := fakeMessage{ID: fmt.Sprintf("msg-%d", len(f.messages)+1), To: in.To, Text: in.Text, IdempotencyKey: key}
	f.messages = append(f.messages, m)
	f.byKey[key] = m
	answer(w, http.StatusCreated, map[string]any{"id": m.ID, "status": "queued"})
}

// sent returns the messages accepted so far.
func (f *fakeGateway) sent() []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeMessage(nil), f.messages...)
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
