package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// SignatureHeader carries a webhook's HMAC signature:
// "sha256=" + hex(HMAC-SHA256(secret, raw body)).
const SignatureHeader = "X-Herald-Signature"

// hookResponse answers an accepted webhook.
type hookResponse struct {
	RunIDs []string `json:"run_ids"`
}

// hook serves POST /hooks/{path...}: it checks the signature when the
// trigger has a secret, and starts a run of the trigger's workflow with the
// request as trigger.body, trigger.headers and trigger.query.
func (a *api) hook(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	p := a.rt.Project()
	if p == nil {
		a.fail(w, http.StatusServiceUnavailable, "no project is loaded")
		return
	}
	wf, trig, ok := p.Webhook(path)
	if !ok {
		a.fail(w, http.StatusNotFound, "no webhook trigger serves /hooks/%s", path)
		return
	}
	body, ok := a.readBodyOrFail(w, r)
	if !ok {
		return
	}
	if trig.Secret != "" {
		if err := verifySignature(trig.Secret, body, r.Header.Values(SignatureHeader)); err != nil {
			a.fail(w, http.StatusUnauthorized, "%s", err)
			return
		}
	}
	key, err := idempotencyKey(r)
	if err != nil {
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	}
	payload, err := decodeHookBody(r.Header.Get("Content-Type"), body)
	if err != nil {
		a.fail(w, http.StatusBadRequest, "%s", err)
		return
	}
	t := engine.Trigger{
		Kind:    engine.KindWebhook,
		Time:    a.now(),
		Body:    payload,
		Headers: flatten(r.Header, true, credentialHeader),
		Query:   flatten(r.URL.Query(), false, nil),
	}
	scoped := ""
	if key != "" {
		scoped = "hook:" + trig.Path + ":" + key
		t.RequestFingerprint = requestFingerprint(trig.Path, payload, t.Query)
	}
	id, _, err := a.rt.Trigger(r.Context(), wf.Name, t, scoped, IdempotencyTTL)
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		a.keyReused(w, key)
		return
	}
	if err != nil {
		a.runtimeError(w, r, public, "start run", err)
		return
	}
	a.storeUp()
	a.writeJSON(w, http.StatusAccepted, hookResponse{RunIDs: []string{id}})
}

// credentialHeader reports the headers (lower-case) kept out of
// trigger.headers because they carry credentials: they would land in the
// run history.
func credentialHeader(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "x-herald-signature":
		return true
	}
	return false
}

// verifySignature checks the X-Herald-Signature values of a request against
// the HMAC-SHA256 of body with secret, in constant time.
func verifySignature(secret string, body []byte, values []string) error {
	switch {
	case len(values) == 0:
		return errors.New("missing " + SignatureHeader + " header: sign the body with the webhook's secret")
	case len(values) > 1:
		return errors.New("more than one " + SignatureHeader + " header")
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(values[0]), "sha256=")
	if !ok {
		return errors.New("malformed " + SignatureHeader + " header: want sha256=<hex HMAC-SHA256 of the body>")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return errors.New("malformed " + SignatureHeader + " header: want sha256=<hex HMAC-SHA256 of the body>")
	}
	if !hmac.Equal(got, bodyMAC(secret, body)) {
		return errors.New(SignatureHeader + " does not match the body")
	}
	return nil
}

// Sign returns the X-Herald-Signature value of body for secret, for
// senders and tests.
func Sign(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(bodyMAC(secret, body))
}

// bodyMAC is the HMAC-SHA256 of body with secret.
func bodyMAC(secret string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}
