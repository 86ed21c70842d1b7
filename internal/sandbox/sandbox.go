// Package sandbox is the shared machinery of the local provider fakes that
// `herald sandbox` serves and the tests use: it records every request a fake
// receives, lists them at GET /_sandbox/requests, injects faults (status
// codes, Retry-After, latency) on demand, and posts the delivery receipts of
// sent messages back to Herald when asked (POST /_sandbox/receipts).
//
// Each provider's fake lives beside its provider and mounts its own routes
// under a prefix; this package knows nothing of any provider's API.
package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds the request body a fake reads.
const maxBody = 16 << 20

// RecordedRequest is one request a fake received.
type RecordedRequest struct {
	Seq      int64               `json:"seq"`
	Provider string              `json:"provider"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    map[string][]string `json:"query,omitempty"`
	Header   map[string][]string `json:"headers,omitempty"`
	Body     json.RawMessage     `json:"body,omitempty"`
	// RawBody holds a body that is not JSON.
	RawBody string    `json:"raw_body,omitempty"`
	Status  int       `json:"status"`
	Time    time.Time `json:"time"`
}

// Fault makes matching requests fail or slow down.
type Fault struct {
	// Provider and PathPrefix select requests; empty matches all.
	Provider   string `json:"provider,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
	// Status is answered instead of the fake's response; 0 leaves the
	// response alone (useful with LatencyMS).
	Status int `json:"status,omitempty"`
	// Body is the response body sent with Status; empty sends a JSON error.
	Body string `json:"body,omitempty"`
	// RetryAfter is sent as the Retry-After header, in seconds.
	RetryAfter int `json:"retry_after,omitempty"`
	// LatencyMS delays the response.
	LatencyMS int `json:"latency_ms,omitempty"`
	// Count limits how many requests the fault applies to; 0 means all.
	Count int `json:"count,omitempty"`
	// Every applies the fault to one request in Every (1 or 0: all).
	Every int `json:"every,omitempty"`

	seen int
	used int
}

// Sandbox serves fakes under path prefixes and records what they receive.
type Sandbox struct {
	mux *http.ServeMux

	mu       sync.Mutex
	seq      int64
	cleared  int64 // seq when the record was last cleared
	requests []RecordedRequest
	faults   []*Fault
	// Now is the clock for recorded times; nil uses time.Now.
	Now func() time.Time
	// Keep bounds the recorded requests: past it the oldest are forgotten,
	// so a sandbox left running does not grow without end. 0 keeps them
	// all. Set it before serving.
	Keep int

	// receipts are the delivery receipt plans and what was posted.
	receipts receipts
}

// New returns an empty Sandbox.
func New() *Sandbox {
	s := &Sandbox{mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /_sandbox/requests", s.listRequests)
	s.mux.HandleFunc("DELETE /_sandbox/requests", s.clearRequests)
	s.mux.HandleFunc("POST /_sandbox/faults", s.addFault)
	s.mux.HandleFunc("GET /_sandbox/faults", s.listFaults)
	s.mux.HandleFunc("DELETE /_sandbox/faults", s.clearFaults)
	s.mux.HandleFunc("POST /_sandbox/receipts", s.setReceipts)
	s.mux.HandleFunc("GET /_sandbox/receipts", s.listReceipts)
	s.mux.HandleFunc("DELETE /_sandbox/receipts", s.clearReceipts)
	return s
}

// Mount serves h for provider under prefix (such as "/chatapi"), with the
// prefix stripped, recording every request and applying faults.
func (s *Sandbox) Mount(provider, prefix string, h http.Handler) {
	prefix = "/" + strings.Trim(prefix, "/")
	s.mux.Handle(prefix+"/", http.StripPrefix(prefix, s.wrap(provider, h)))
}

// ServeHTTP implements http.Handler.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Requests returns the recorded requests, optionally only provider's.
func (s *Sandbox) Requests(provider string) []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RecordedRequest
	for _, r := range s.kept() {
		if provider == "" || r.Provider == provider {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets recorded requests and faults.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.cleared = s.seq
	s.faults = nil
}

// AddFault installs f.
func (s *Sandbox) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

func (s *Sandbox) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// matchFault returns the fault to apply to a request, counting it as used.
func (s *Sandbox) matchFault(provider, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Provider != "" && f.Provider != provider {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		if f.Count > 0 && f.used >= f.Count {
			continue
		}
		f.seen++
		if f.Every > 1 && f.seen%f.Every != 0 {
			continue
		}
		f.used++
		c := *f
		return &c
	}
	return nil
}

func (s *Sandbox) wrap(provider string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		fault := s.matchFault(provider, r.URL.Path)
		if fault != nil && fault.LatencyMS > 0 {
			select {
			case <-time.After(time.Duration(fault.LatencyMS) * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		if fault != nil && fault.Status != 0 {
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
			}
			w.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(fault.Status)
			b := fault.Body
			if b == "" {
				eb, _ := json.Marshal(map[string]string{"error": "sandbox fault: HTTP " + strconv.Itoa(fault.Status)})
				b = string(eb)
			}
			_, _ = io.WriteString(rec, b)
		} else {
			h.ServeHTTP(rec, r)
		}
		s.record(provider, r, body, rec.status)
	})
}

func (s *Sandbox) record(provider string, r *http.Request, body []byte, status int) {
	req := RecordedRequest{
		Provider: provider,
		Method:   r.Method,
		Path:     r.URL.Path,
		Query:    r.URL.Query(),
		Header:   r.Header.Clone(),
		Status:   status,
		Time:     s.now().UTC(),
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if json.Valid(body) {
			req.Body = json.RawMessage(body)
		} else {
			req.RawBody = string(body)
		}
	}
	s.mu.Lock()
	s.seq++
	req.Seq = s.seq
	s.requests = append(s.requests, req)
	// Forget in bulk, once twice Keep are held, so recording stays cheap;
	// kept returns only the newest Keep.
	if s.Keep > 0 && len(s.requests) >= 2*s.Keep {
		s.requests = append([]RecordedRequest(nil), s.requests[len(s.requests)-s.Keep:]...)
	}
	s.mu.Unlock()
}

// kept returns the requests still on record; the caller holds s.mu.
func (s *Sandbox) kept() []RecordedRequest {
	if s.Keep > 0 && len(s.requests) > s.Keep {
		return s.requests[len(s.requests)-s.Keep:]
	}
	return s.requests
}

func (s *Sandbox) listRequests(w http.ResponseWriter, r *http.Request) {
	reqs := s.Requests(r.URL.Query().Get("provider"))
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Seq < reqs[j].Seq })
	if reqs == nil {
		reqs = []RecordedRequest{}
	}
	s.mu.Lock()
	forgotten := s.seq - s.cleared - int64(len(s.kept()))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"requests": reqs, "count": len(reqs), "forgotten": forgotten})
}

func (s *Sandbox) clearRequests(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.requests = nil
	s.cleared = s.seq
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) addFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !decodeRequest(w, r, "fault", &f) {
		return
	}
	s.AddFault(f)
	writeJSON(w, http.StatusCreated, f)
}

func (s *Sandbox) listFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = *f
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"faults": out})
}

func (s *Sandbox) clearFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// WriteJSON writes v as a JSON response with status; fakes use it for their
// responses.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// decodeRequest decodes a control request's JSON body (at most 1 MiB, no
// unknown fields) into v, answering 400 and returning false when it cannot.
func decodeRequest(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": what + ": " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status = code
		r.wrote = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}
