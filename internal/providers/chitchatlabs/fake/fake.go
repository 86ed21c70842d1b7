// Package fake is a local stand-in for ChitChatLabs, for tests and `herald
// sandbox`: it serves POST /chat-service/apis/message/single and
// /message/blast with the real API's x-tenant-api-key authentication and
// request rules, and keeps the messages it accepted.
//
// ChitChatLabs documents neither its response bodies nor its error bodies;
// the fake answers {"status": "accepted", "id": …} on success and
// {"error": …} on failure, and the provider passes either through without
// relying on its shape.
//
// A Fake does not assume it owns "/": mounted under a prefix (the sandbox
// strips "/chitchatlabs"), it serves the same paths below it.
package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/heraldhq/herald/internal/sandbox"
)

// DefaultAPIKey is the API key a Fake made by New accepts.
const DefaultAPIKey = "sandbox-api-key"

// The endpoints, below the fake's mount point.
const (
	SinglePath = "/chat-service/apis/message/single"
	BlastPath  = "/chat-service/apis/message/blast"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

var (
	mobileRE = regexp.MustCompile(`^[0-9]{7,15}$`)
	linkRE   = regexp.MustCompile(`^https?://`)
)

// Fake is a ChitChatLabs tenant. APIKey sets the accepted key and is read
// when the Fake serves its first request; empty takes DefaultAPIKey.
type Fake struct {
	APIKey string

	once sync.Once
	mux  *http.ServeMux

	mu       sync.Mutex
	seq      int
	accepted []Message
}

// Message is one single or blast request the fake accepted.
type Message struct {
	ID string `json:"id"`
	// Kind is "single" or "blast".
	Kind string `json:"kind"`
	// Body is the request body as received.
	Body map[string]any `json:"body"`
}

// New returns a Fake accepting DefaultAPIKey.
func New() *Fake { return &Fake{APIKey: DefaultAPIKey} }

// ProviderConfig returns the chitchatlabs instance config that points the
// provider at a Fake made by New and served at baseURL (with any mount
// prefix included).
func ProviderConfig(baseURL string) map[string]any {
	return map[string]any{"api_key": DefaultAPIKey, "base_url": baseURL}
}

func (f *Fake) init() {
	if f.APIKey == "" {
		f.APIKey = DefaultAPIKey
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+SinglePath, f.authenticated("single", validateSingle))
	mux.HandleFunc("POST "+BlastPath, f.authenticated("blast", validateBlast))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path)
	})
	f.mux = mux
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.once.Do(f.init)
	f.mux.ServeHTTP(w, r)
}

// Accepted returns the requests the fake accepted, oldest first.
func (f *Fake) Accepted() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.accepted...)
}

// authenticated checks the API key, decodes and validates the body, and
// accepts the message with a new id.
func (f *Fake) authenticated(kind string, validate func(map[string]any) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-tenant-api-key") != f.APIKey {
			writeError(w, http.StatusUnauthorized, "invalid or missing x-tenant-api-key")
			return
		}
		body, problem := decodeObject(r)
		if problem == "" {
			problem = validate(body)
		}
		if problem != "" {
			writeError(w, http.StatusBadRequest, problem)
			return
		}
		f.mu.Lock()
		f.seq++
		id := fmt.Sprintf("%s_%06d", kind, f.seq)
		f.accepted = append(f.accepted, Message{ID: id, Kind: kind, Body: body})
		f.mu.Unlock()
		sandbox.WriteJSON(w, http.StatusOK, map[string]any{"status": "accepted", "id": id})
	}
}

func decodeObject(r *http.Request) (map[string]any, string) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(data) > maxBody {
		return nil, "request body is unreadable or too large"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		return nil, "request body must be a JSON object"
	}
	return body, ""
}

func validateSingle(body map[string]any) string {
	to, ok := body["to"].(map[string]any)
	if !ok {
		return "to is required"
	}
	if mobile, _ := to["mobile"].(string); !mobileRE.MatchString(mobile) {
		return "to.mobile must be a phone number with country code, digits only"
	}
	if v, ok := to["name"]; ok {
		if _, isString := v.(string); !isString {
			return "to.name must be a string"
		}
	}
	return validateTemplate(body)
}

func validateBlast(body map[string]any) string {
	spec, ok := body["searchSpec"].(map[string]any)
	if !ok || len(spec) == 0 {
		return "searchSpec must be an object of contact fields"
	}
	return validateTemplate(body)
}

// validateTemplate checks the fields single and blast share.
func validateTemplate(body map[string]any) string {
	for _, key := range []string{"fb_template", "language"} {
		if s, _ := body[key].(string); strings.TrimSpace(s) == "" {
			return key + " is required"
		}
	}
	if v, ok := body["params"]; ok {
		list, ok := v.([]any)
		if !ok {
			return "params must be a list of strings"
		}
		for _, p := range list {
			if _, ok := p.(string); !ok {
				return "params must be a list of strings"
			}
		}
	}
	if v, ok := body["file"]; ok {
		file, ok := v.(map[string]any)
		if !ok {
			return "file must be an object"
		}
		switch file["type"] {
		case "image", "video", "document":
		default:
			return "file.type must be image, video or document"
		}
		if link, _ := file["link"].(string); !linkRE.MatchString(link) {
			return "file.link must be an http(s) URL"
		}
	}
	if v, ok := body["tag"]; ok {
		if _, isString := v.(string); !isString {
			return "tag must be a string"
		}
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, msg string) {
	sandbox.WriteJSON(w, status, map[string]string{"error": msg})
}
