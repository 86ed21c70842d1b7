package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/sdk"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Mode says what the console offers.
type Mode string

// The modes of `herald serve --ui`.
const (
	// ModeOn serves every page and action.
	ModeOn Mode = "on"
	// ModeReadOnly serves every page and no action: no form is shown and
	// every action POST is refused.
	ModeReadOnly Mode = "readonly"
	// ModeOff serves no console.
	ModeOff Mode = "off"
)

// ParseMode reads a --ui or HERALD_UI value; empty is ModeOn.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeOn, nil
	case ModeOn, ModeReadOnly, ModeOff:
		return m, nil
	}
	return "", fmt.Errorf("unknown console mode %q (want on, readonly or off)", s)
}

// DefaultPrefix is where `herald serve` mounts the console.
const DefaultPrefix = "/ui"

// Options configure the console New returns.
type Options struct {
	// Prefix is the path the console is mounted under, such as "/ui" (the
	// default) or "/ops/herald": the handler serves requests whose path
	// starts with it, and builds its links with it.
	Prefix string
	// Token, when set, is asked for on the login page (HERALD_API_TOKEN).
	// Without one the console answers loopback clients only.
	Token string
	// ReadOnly hides every action and refuses every action POST.
	ReadOnly bool
	// Masker returns the masker of the project served now; every run is
	// masked with it before it is rendered. Nil masks nothing.
	Masker func() *sdk.Masker
	// Logger receives errors; nil logs nothing.
	Logger hclog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// SessionTTL is how long a login lasts; 12 hours when zero.
	SessionTTL time.Duration
}

// DefaultSessionTTL is how long a console login lasts by default.
const DefaultSessionTTL = 12 * time.Hour

// Console is the console's http.Handler.
type Console struct {
	b     Backend
	opts  Options
	log   hclog.Logger
	pages *pages
	mux   *http.ServeMux
	// key signs session cookies and derives CSRF tokens. With a token it
	// is derived from it, so sessions survive a restart and are valid on
	// every replica; without one it is random per process.
	key      []byte
	tokenSum [sha256.Size]byte
	revoked  revocations
	static   http.Handler
}

var _ http.Handler = (*Console)(nil)

// New returns the console serving b with opts.
func New(b Backend, opts Options) (*Console, error) {
	opts.Prefix = "/" + strings.Trim(opts.Prefix, "/")
	if opts.Prefix == "/" {
		opts.Prefix = ""
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	c := &Console{b: b, opts: opts, log: opts.Logger, pages: &pages{}, tokenSum: sha256.Sum256([]byte(opts.Token))}
	if opts.Token != "" {
		m := hmac.New(sha256.New, []byte(opts.Token))
		m.Write([]byte("herald console session key v1"))
		c.key = m.Sum(nil)
	} else {
		c.key = make([]byte, 32)
		if _, err := rand.Read(c.key); err != nil {
			return nil, err
		}
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	c.static = http.StripPrefix(c.opts.Prefix+"/static/", http.FileServerFS(sub))
	c.routes()
	return c, nil
}

// routes registers every page and action under the prefix.
func (c *Console) routes() {
	c.mux = http.NewServeMux()
	p := c.opts.Prefix
	page := func(pattern string, h http.HandlerFunc) { c.mux.Handle("GET "+p+pattern, c.authed(h)) }
	action := func(pattern string, h http.HandlerFunc) { c.mux.Handle("POST "+p+pattern, c.authed(c.checkAction(h))) }

	c.mux.Handle("GET "+p+"/static/", c.cacheStatic(c.static))
	c.mux.HandleFunc("GET "+p+"/login", c.loginPage)
	c.mux.HandleFunc("POST "+p+"/login", c.login)
	c.mux.Handle("POST "+p+"/logout", c.authed(c.checkCSRF(http.HandlerFunc(c.logout))))

	page("/{$}", c.workflowsPage)
	page("/workflows", c.workflowsPage)
	page("/workflows/{name}", c.workflowPage)
	page("/runs", c.runsPage)
	page("/runs/{id}", c.runPage)
	page("/schedule", c.schedulePage)
	page("/plugins", c.pluginsPage)
	page("/events", c.events)

	action("/workflows/{name}/runs", c.startRun)
	action("/runs/{id}/retry", c.retryRun)
	action("/runs/{id}/cancel", c.cancelRun)
	action("/runs/{id}/resolve", c.resolveRun)
	action("/runs/{id}/signal", c.signalRun)

	c.mux.HandleFunc(p+"/", c.notFound)
	if p != "" {
		c.mux.Handle("GET "+p, http.RedirectHandler(p+"/", http.StatusFound))
	}
}

// ServeHTTP implements http.Handler: every response carries the security
// headers, whatever route answers it.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if c.opts.Token == "" && !loopback(r.RemoteAddr) {
		http.Error(w, "the Herald console answers loopback clients only unless HERALD_API_TOKEN is set", http.StatusForbidden)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy allows the console's own files only: no inline
// script or style, no framing, forms posting to the console alone.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// loopback reports whether a request's remote address is a loopback one.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cacheStatic lets browsers keep the static files for a while.
func (c *Console) cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// path returns the console URL of p, such as path("/runs") = "/ui/runs".
func (c *Console) path(p string) string { return c.opts.Prefix + p }

// masker returns the masker of the project served now.
func (c *Console) masker() *sdk.Masker {
	if c.opts.Masker == nil {
		return nil
	}
	return c.opts.Masker()
}

// mask returns s with the served project's secrets masked.
func (c *Console) mask(s string) string {
	if m := c.masker(); m != nil {
		return m.String(s)
	}
	return s
}

func (c *Console) now() time.Time { return c.opts.Now() }

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, http.StatusNotFound, "Not found", "There is no console page at "+r.URL.Path+".")
}
