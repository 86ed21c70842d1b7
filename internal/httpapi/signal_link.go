package httpapi

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"

	"golang.org/x/time/rate"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/signallink"
	"github.com/heraldhq/herald/internal/store"
)

// Limits of the signal links, which anyone holding a link may open.
const (
	// SignalLinkRate and SignalLinkBurst bound the requests to /signal/
	// across all clients, so a flood of link requests cannot keep the
	// store busy.
	SignalLinkRate  = 20
	SignalLinkBurst = 40
	// signalBy names who delivers a signal through its link, in the run's
	// operation log.
	signalBy = "signal link"
)

// signalLinkData is what a link delivers as the signal's data.
var signalLinkData = json.RawMessage(`{"via":"link"}`)

// signalLinks serves GET and POST /signal/{token}: GET shows a page with a
// confirm button and changes nothing (so a chat app's link preview does
// not acknowledge); POST, from that button, delivers the signal once.
type signalLinks struct {
	a       *api
	signer  *signallink.Signer
	limiter *rate.Limiter
}

func newSignalLinks(a *api, s *signallink.Signer) *signalLinks {
	return &signalLinks{a: a, signer: s, limiter: rate.NewLimiter(SignalLinkRate, SignalLinkBurst)}
}

// check verifies the request's token and the rate; it answers and returns
// false when either fails.
func (l *signalLinks) check(w http.ResponseWriter, r *http.Request) (runID, name string, ok bool) {
	if !l.limiter.Allow() {
		w.Header().Set("Retry-After", "1")
		l.page(w, http.StatusTooManyRequests, "Too many requests", "Too many requests right now. Try again in a moment.", "")
		return "", "", false
	}
	runID, name, err := l.signer.Verify(r.PathValue("token"))
	if err != nil {
		l.page(w, http.StatusForbidden, "Invalid link", "This link is not valid. Use the link exactly as you received it.", "")
		return "", "", false
	}
	return runID, name, true
}

func (l *signalLinks) get(w http.ResponseWriter, r *http.Request) {
	if _, name, ok := l.check(w, r); ok {
		l.page(w, http.StatusOK, "Confirm", "Confirm \""+name+"\"?", r.URL.Path)
	}
}

func (l *signalLinks) post(w http.ResponseWriter, r *http.Request) {
	runID, name, ok := l.check(w, r)
	if !ok {
		return
	}
	ws, ok := l.a.rt.Store().(store.Waits)
	if !ok {
		l.page(w, http.StatusNotFound, "Not available", "This server does not deliver signals.", "")
		return
	}
	first, err := ws.UseSignalToken(r.Context(), r.PathValue("token"), runID, l.a.opts.Now().UTC())
	if err != nil {
		l.a.log.Error("signal link: recording its use failed", "run_id", runID, "error", err)
		l.page(w, http.StatusServiceUnavailable, "Try again", "The link could not be used right now. Try again in a moment.", "")
		return
	}
	if !first {
		l.page(w, http.StatusConflict, "Already used", "This link was already used.", "")
		return
	}
	err = l.a.rt.SignalRun(r.Context(), runID, name, signalLinkData, signalBy)
	switch {
	case err == nil:
		l.page(w, http.StatusOK, "Done", "Confirmed: \""+name+"\". You can close this page.", "")
	case errors.Is(err, engine.ErrRunState) || errors.Is(err, store.ErrNotFound):
		l.page(w, http.StatusConflict, "No longer waiting", "Nothing waits for this confirmation any more.", "")
	default:
		l.a.log.Error("signal link: delivering the signal failed", "run_id", runID, "signal", name, "error", err)
		l.page(w, http.StatusServiceUnavailable, "Try again", "The confirmation could not be delivered right now.", "")
	}
}

var signalPage = template.Must(template.New("signal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}} · Herald</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}button{font-size:1.2rem;padding:.6rem 1.4rem}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Action}}<form method="post" action="{{.Action}}"><button type="submit">Confirm</button></form>{{end}}
</body></html>
`))

// page renders a small HTML page; with action, a form whose button POSTs
// there.
func (l *signalLinks) page(w http.ResponseWriter, code int, title, msg, action string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(code)
	_ = signalPage.Execute(w, struct{ Title, Message, Action string }{title, msg, action})
}
