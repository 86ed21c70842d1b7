package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// sessionCookie names the console's session cookie.
const sessionCookie = "herald_console"

// csrfField is the form field every action POST carries.
const csrfField = "csrf"

// maxFormBody caps an action's form body.
const maxFormBody = 1 << 20

// session is a console session, as the signed cookie carries it.
type session struct {
	// id is random; the CSRF token is derived from it.
	id      []byte
	expires time.Time
	csrf    string
}

type sessionKey struct{}

// sessionOf returns the request's session, set by authed.
func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// revocations remembers the sessions logged out before they expire: the
// cookie is signed, not stored, so logging out must outlaw it.
type revocations struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

func (rv *revocations) revoke(s *session, now time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.ids == nil {
		rv.ids = map[string]time.Time{}
	}
	for id, exp := range rv.ids {
		if now.After(exp) {
			delete(rv.ids, id)
		}
	}
	rv.ids[string(s.id)] = s.expires
}

func (rv *revocations) revoked(s *session) bool {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	_, ok := rv.ids[string(s.id)]
	return ok
}

// newSession returns a fresh session with a random id.
func (c *Console) newSession() (*session, error) {
	s := &session{id: make([]byte, 16), expires: c.now().Add(c.opts.SessionTTL).Truncate(time.Second)}
	if _, err := rand.Read(s.id); err != nil {
		return nil, err
	}
	s.csrf = c.csrfToken(s.id)
	return s, nil
}

// csrfToken derives the CSRF token of session id.
func (c *Console) csrfToken(id []byte) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("csrf:"))
	m.Write(id)
	return hex.EncodeToString(m.Sum(nil))
}

// encode returns the cookie value of s: id and expiry, and their HMAC.
func (c *Console) encode(s *session) string {
	payload := make([]byte, 0, len(s.id)+8)
	payload = append(payload, s.id...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(s.expires.Unix()))
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// session returns the request's valid session, if it has one.
func (c *Console) session(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	p, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return nil, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != 24 {
		return nil, false
	}
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return nil, false
	}
	s := &session{id: payload[:16], expires: time.Unix(int64(binary.BigEndian.Uint64(payload[16:])), 0)}
	if !c.now().Before(s.expires) || c.revoked.revoked(s) {
		return nil, false
	}
	s.csrf = c.csrfToken(s.id)
	return s, true
}

// setCookie sends s as the session cookie.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    c.encode(s),
		Path:     c.cookiePath(),
		Expires:  s.expires,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

func (c *Console) cookiePath() string { return c.opts.Prefix + "/" }

// authed serves h to a request with a session. With a token, a request
// without a valid session is sent to the login page (a GET) or refused;
// without one, it gets a fresh anonymous session, which CSRF tokens need.
func (c *Console) authed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(r)
		if !ok {
			if c.opts.Token != "" {
				if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
					http.Redirect(w, r, c.path("/login")+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.renderError(w, r, http.StatusUnauthorized, "Log in first", "Your console session has ended; log in again.")
				return
			}
			var err error
			if s, err = c.newSession(); err != nil {
				c.renderError(w, r, http.StatusInternalServerError, "Internal error", "Could not start a session.")
				return
			}
			c.setCookie(w, r, s)
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// checkCSRF refuses a POST whose csrf field is not its session's token,
// or that a browser sent from another origin.
func (c *Console) checkCSRF(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil {
			c.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		s := sessionOf(r)
		given := r.PostForm.Get(csrfField)
		if s == nil || subtle.ConstantTimeCompare([]byte(given), []byte(s.csrf)) != 1 {
			c.renderError(w, r, http.StatusForbidden, "Refused", "This action did not carry a valid CSRF token. Reload the page and try again.")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "null" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				c.renderError(w, r, http.StatusForbidden, "Refused", "This action came from another origin.")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// checkAction refuses every action in read-only mode, then checks CSRF.
func (c *Console) checkAction(h http.Handler) http.Handler {
	inner := c.checkCSRF(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.opts.ReadOnly {
			c.renderError(w, r, http.StatusForbidden, "Read-only", "This console is read-only (--ui readonly): it takes no action.")
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// loginData fills the login page.
type loginData struct {
	Next  string
	Error string
}

// loginPage serves GET /login.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.opts.Token == "" {
		http.Redirect(w, r, c.path("/"), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", "Log in", loginData{Next: c.safeNext(r.URL.Query().Get("next"))})
}

// login serves POST /login: the token, compared in constant time, buys a
// session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.opts.Token == "" {
		http.Redirect(w, r, c.path("/"), http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	_ = r.ParseForm()
	next := c.safeNext(r.PostForm.Get("next"))
	sum := sha256.Sum256([]byte(strings.TrimSpace(r.PostForm.Get("token"))))
	if subtle.ConstantTimeCompare(sum[:], c.tokenSum[:]) != 1 {
		c.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: "That token is not HERALD_API_TOKEN."})
		return
	}
	s, err := c.newSession()
	if err != nil {
		c.renderError(w, r, http.StatusInternalServerError, "Internal error", "Could not start a session.")
		return
	}
	c.setCookie(w, r, s)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout serves POST /logout.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if s := sessionOf(r); s != nil {
		c.revoked.revoke(s, c.now())
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: c.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, c.path("/login"), http.StatusSeeOther)
}

// safeNext returns next when it is a console path, else the console's
// root: the login never redirects off the console.
func (c *Console) safeNext(next string) string {
	root := c.path("/")
	if strings.HasPrefix(next, root) && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return root
}
