// Package fake is a local stand-in for Chat API, for tests and `herald
// sandbox`: it serves the instance API (/instance{id}/sendMessage, /message,
// /sendFile, /status, and /messages, the list of the instance's messages
// that a client reads to learn whether a send whose answer it lost went out) and the account-level functions (/newInstance,
// /listInstances, /deleteInstance) with the real API's authentication,
// request validation and response shapes, and keeps the state that matters:
// the account's instances and the messages each one sent.
//
// A Fake does not assume it owns "/": mounted under a prefix (the sandbox
// strips "/chatapi"), it serves the same paths below it, and the apiUrl it
// reports for new instances includes the prefix. Recording requests and
// injecting faults is the sandbox's job, not the fake's.
package fake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/sandbox"
)

// The credentials and instance a Fake made by New accepts.
const (
	DefaultInstanceID = "229607"
	DefaultToken      = "sandbox-token"
	DefaultUID        = "sandbox-uid"
)

// The account statuses the fake uses.
const (
	StatusAuthenticated = "authenticated"
	StatusGotQRCode     = "got qr code"
)

// qrCode is what the status of an instance waiting for its phone carries: a
// 1×1 PNG, as the data URI Chat API sends.
const qrCode = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

var (
	phoneRE  = regexp.MustCompile(`^[0-9]{7,15}$`)
	chatIDRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?@[cg]\.us$`)
)

// Fake is a Chat API account with one authenticated instance. Its exported
// fields set the accepted credentials and are read when it serves its first
// request; a zero field takes the Default value.
type Fake struct {
	// InstanceID and Token are the instance the account starts with.
	InstanceID string
	Token      string
	// UID is the account API key the management functions require.
	UID string
	// Now is the clock for paidTill; nil uses time.Now.
	Now func() time.Time
	// OnSent, when set, is called (without the fake's lock held) with each
	// message the fake sends; the sandbox posts its receipts from it.
	OnSent func(Message)

	once sync.Once
	mux  *http.ServeMux

	mu        sync.Mutex
	instances map[string]*instance
	nextID    int
	seq       uint64
	sent      []Message
}

// instance is one instance of the fake account.
type instance struct {
	id            string
	token         string
	typ           string
	name          string
	accountStatus string
	apiURL        string
	paidTill      int64
}

// Message is one message or file an instance of the fake sent.
type Message struct {
	Instance string `json:"instance"`
	// Method is sendMessage or sendFile.
	Method string `json:"method"`
	ID     string `json:"id"`
	ChatID string `json:"chatId"`
	// Body is the request body as received.
	Body map[string]any `json:"body"`
	// Number is the message's messageNumber, counting the account's
	// messages from 1.
	Number int64 `json:"messageNumber"`
	// Time is when the fake sent it, in whole seconds as Chat API reports.
	Time int64 `json:"time"`
}

// New returns a Fake with the default credentials.
func New() *Fake {
	return &Fake{InstanceID: DefaultInstanceID, Token: DefaultToken, UID: DefaultUID}
}

// ProviderConfig returns the chatapi instance config that points the
// provider, for both its instance API and its management functions, at a Fake
// made by New and served at baseURL (with any mount prefix included).
func ProviderConfig(baseURL string) map[string]any {
	return map[string]any{
		"instance_id":    DefaultInstanceID,
		"token":          DefaultToken,
		"api_url":        baseURL,
		"uid":            DefaultUID,
		"management_url": baseURL,
	}
}

func (f *Fake) init() {
	if f.InstanceID == "" {
		f.InstanceID = DefaultInstanceID
	}
	if f.Token == "" {
		f.Token = DefaultToken
	}
	if f.UID == "" {
		f.UID = DefaultUID
	}
	f.instances = map[string]*instance{}
	f.nextID = 1
	f.addInstance(f.InstanceID, f.Token)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{instance}/sendMessage", f.instanceMethod(f.sendMessage))
	mux.HandleFunc("POST /{instance}/message", f.instanceMethod(f.sendMessage))
	mux.HandleFunc("POST /{instance}/sendFile", f.instanceMethod(f.sendFile))
	mux.HandleFunc("GET /{instance}/status", f.instanceMethod(f.status))
	mux.HandleFunc("GET /{instance}/messages", f.instanceMethod(f.messages))
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(m+" /newInstance", f.account(f.newInstance))
		mux.HandleFunc(m+" /listInstances", f.account(f.listInstances))
		mux.HandleFunc(m+" /deleteInstance", f.account(f.deleteInstance))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "unknown method "+r.URL.Path)
	})
	f.mux = mux
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.once.Do(f.init)
	f.mux.ServeHTTP(w, r)
}

// Sent returns the messages and files the fake's instances sent, oldest
// first.
func (f *Fake) Sent() []Message {
	f.once.Do(f.init)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.sent...)
}

// AddInstance adds an authenticated instance with the given id and token to
// the account, replacing any instance with that id.
func (f *Fake) AddInstance(id, token string) {
	f.once.Do(f.init)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addInstance(id, token)
}

// addInstance adds an authenticated instance; f.mu is held or f is not
// serving yet.
func (f *Fake) addInstance(id, token string) {
	f.instances[id] = &instance{
		id:            id,
		token:         token,
		typ:           "whatsapp",
		accountStatus: StatusAuthenticated,
		paidTill:      f.now().Add(30 * 24 * time.Hour).Unix(),
	}
	if n, err := strconv.Atoi(id); err == nil && n >= f.nextID {
		f.nextID = n + 1
	}
}

// SetAccountStatus sets the account status of an instance, such as
// StatusGotQRCode to make it refuse to send. It reports whether the instance
// exists.
func (f *Fake) SetAccountStatus(instanceID, status string) bool {
	f.once.Do(f.init)
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[instanceID]
	if ok {
		in.accountStatus = status
	}
	return ok
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// instanceMethod authenticates a request to the instance API: the path's
// first segment names an existing instance, and the token query parameter is
// that instance's token.
func (f *Fake) instanceMethod(h func(w http.ResponseWriter, r *http.Request, in *instance)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.PathValue("instance"), "instance")
		if !ok || id == "" {
			writeError(w, http.StatusNotFound, "unknown method "+r.URL.Path)
			return
		}
		f.mu.Lock()
		in, found := f.instances[id]
		var token string
		if found {
			token = in.token
		}
		f.mu.Unlock()
		switch {
		case !found:
			writeError(w, http.StatusNotFound, "instance "+id+" not found")
		case r.URL.Query().Get("token") != token:
			writeError(w, http.StatusUnauthorized, "wrong token: provide the instance's token as the token query parameter")
		default:
			h(w, r, in)
		}
	}
}

// account authenticates a call of an account-level function: uid, in the
// query or a form body, is the account API key.
func (f *Fake) account(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("uid") != f.UID {
			writeError(w, http.StatusUnauthorized, "wrong uid: provide the account API key as the uid parameter")
			return
		}
		h(w, r)
	}
}

// nextMessageID returns a new id of an outgoing message in chatID. Ids
// increase with every message the fake sends.
func (f *Fake) nextMessageID(chatID string) string {
	f.seq++
	return fmt.Sprintf("true_%s_3EB0%016X", chatID, f.seq)
}

// newToken derives an instance token the way tests can predict: the first
// 16 hex digits of sha256(uid, id).
func newToken(uid, id string) string {
	sum := sha256.Sum256([]byte(uid + "\x00" + id))
	return hex.EncodeToString(sum[:8])
}

// baseURL returns the URL the fake is served at, mount prefix included, as
// the request reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	full := r.RequestURI
	if i := strings.IndexByte(full, '?'); i >= 0 {
		full = full[:i]
	}
	prefix := strings.TrimSuffix(full, r.URL.Path)
	return scheme + "://" + r.Host + prefix
}

func writeError(w http.ResponseWriter, status int, msg string) {
	sandbox.WriteJSON(w, status, map[string]string{"error": msg})
}

// sortedInstances returns the instances ordered by id, numerically when
// the ids are numbers.
func (f *Fake) sortedInstances() []*instance {
	out := make([]*instance, 0, len(f.instances))
	for _, in := range f.instances {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		a, errA := strconv.Atoi(out[i].id)
		b, errB := strconv.Atoi(out[j].id)
		if errA == nil && errB == nil {
			return a < b
		}
		return out[i].id < out[j].id
	})
	return out
}
