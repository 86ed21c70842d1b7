// Package sandbox is the shared machinery of the local provider fakes that
// `herald sandbox` serves and the tests use: it records every request a fake
// receives, lists them at GET /_sandbox/requests, injects faults (status
// codes, Retry-After, latency, and "accept, then drop the response") on
// demand, and posts the delivery receipts of sent messages back to Herald
// when asked (POST /_sandbox/receipts).
//
// Each provider's fake lives beside its provider and mounts its own routes
// under a prefix; this package knows nothing of any provider's API.
package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	RawBody string `json:"raw_body,omitempty"`
	Status  int    `json:"status"`
	// Dropped is set when a Drop fault kept the fake's answer from the
	// client: the fake handled the request (Status is its answer) but the
	// client never heard back; Status 0 means the fake never got it
	// (DropLose).
	Dropped bool      `json:"dropped,omitempty"`
	Time    time.Time `json:"time"`
}

// The ways a Drop fault loses the fake's answer.
const (
	// DropClose closes the connection as soon as the fake has handled the
	// request: the client sees the connection end without a response.
	DropClose = "close"
	// DropHang holds the connection open without answering until the
	// client gives up, then closes it: the client sees its own timeout.
	DropHang = "hang"
	// DropLose closes the connection without passing the request to the
	// fake at all: the provider never got it, yet the client cannot tell
	// this from DropClose. It is recorded with Dropped and status 0.
	DropLose = "lose"
)

// Fault makes matching requests fail or slow down.
type Fault struct {
	// Provider, Method and PathPrefix select requests; empty matches all.
	Provider   string `json:"provider,omitempty"`
	Method     string `json:"method,omitempty"`
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
	// Ratio applies the fault to that fraction of the matching requests,
	// spread evenly (0.2: the 5th, 10th, 15th, …); 0 or 1 means all. It
	// combines with Every as a further filter.
	Ratio float64 `json:"ratio,omitempty"`
	// Drop, DropClose or DropHang, makes the fault "accept, then drop the
	// response": the fake handles the request as usual (a send is
	// recorded and delivered) but its answer never reaches the client.
	// DropLose loses the request instead. Status and Body are ignored
	// with it.
	Drop string `json:"drop,omitempty"`

	seen      int
	ratioSeen int
	used      int
}

// validate reports a fault that cannot apply as written.
func (f *Fault) validate() error {
	if f.Drop != "" && f.Drop != DropClose && f.Drop != DropHang && f.Drop != DropLose {
		return fmt.Errorf("drop must be %q, %q or %q, not %q", DropClose, DropHang, DropLose, f.Drop)
	}
	if f.Ratio < 0 || f.Ratio > 1 {
		return fmt.Errorf("ratio must be between 0 and 1, not %v", f.Ratio)
	}
	return nil
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

// ClearFaults removes every fault, keeping the recorded requests.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
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
func (s *Sandbox) matchFault(provider, method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Provider != "" && f.Provider != provider {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.Count > 0 && f.used >= f.Count {
			continue
		}
		f.seen++
		if f.Every > 1 && f.seen%f.Every != 0 {
			continue
		}
		if f.Ratio > 0 && f.Ratio < 1 {
			f.ratioSeen++
			if int(float64(f.ratioSeen)*f.Ratio) == int(float64(f.ratioSeen-1)*f.Ratio) {
				continue
			}
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
		fault := s.matchFault(provider, r.Method, r.URL.Path)
		if fault != nil && fault.LatencyMS > 0 {
			select {
			case <-time.After(time.Duration(fault.LatencyMS) * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		if fault != nil && fault.Drop != "" {
			s.drop(w, r, h, provider, body, fault.Drop)
			return
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
		s.record(provider, r, body, rec.status, false)
	})
}

// drop lets h handle r without its answer reaching the client, then ends
// the connection: at once (DropClose) or once the client gives up
// (DropHang). The request is recorded with the fake's status and Dropped.
// DropLose keeps r from h and records status 0.
func (s *Sandbox) drop(w http.ResponseWriter, r *http.Request, h http.Handler, provider string, body []byte, how string) {
	status := 0
	if how != DropLose {
		rec := &discardWriter{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		status = rec.status
	}
	s.record(provider, r, body, status, true)
	if how == DropHang {
		<-r.Context().Done()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// A server that cannot hijack (HTTP/2) can still break the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func (s *Sandbox) record(provider string, r *http.Request, body []byte, status int, dropped bool) {
	req := RecordedRequest{
		Dropped:  dropped,
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
	if err := f.validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault: " + err.Error()})
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

// discardWriter takes a fake's answer that a Drop fault keeps from the
// client, remembering only its status.
type discardWriter struct {
	header http.Header
	status int
	wrote  bool
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(code int) {
	if !d.wrote {
		d.status, d.wrote = code, true
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	d.wrote = true
	return len(b), nil
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
