package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/jsonenc"
	"github.com/heraldhq/herald/internal/store"
)

// SignatureHeader carries a webhook's HMAC signature:
// "sha256=" + hex(HMAC-SHA256(secret, raw body)), or, with TimestampHeader,
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + raw body)).
const SignatureHeader = "X-Herald-Signature"

// TimestampHeader carries the time a timestamped signature was made, in
// Unix seconds. The signature covers it, and it must be within the
// trigger's timestamp_tolerance of the host's clock, so a captured request
// cannot be replayed later.
const TimestampHeader = "X-Herald-Timestamp"

// hookResponse answers an accepted webhook.
type hookResponse struct {
	RunIDs []string `json:"run_ids"`
}

// hook serves POST /hooks/{path...}: it checks the signature when the
// trigger has a secret, and starts a run of the trigger's workflow with the
// request as trigger.body, trigger.headers and trigger.query.
func (a *api) hook(w http.ResponseWriter, r *http.Request) {
	path := hookRoute.pathValue(r)
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
		if err := a.verifyHook(trig, r.Header, body); err != nil {
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
		Kind:     engine.KindWebhook,
		Time:     a.now(),
		Headers:  flatten(r.Header, true, nil),
		NoWaiter: trig.Respond != config.RespondOutput,
	}
	if r.URL.RawQuery != "" {
		// Without a query string Query would make an empty map for
		// flatten to drop.
		t.Query = flatten(r.URL.Query(), false, nil)
	}
	// Credentials become "***" before the run is stored; the engine masks
	// the project's secret values wherever else they occur.
	t.Body = trig.MaskRequest(t.Headers, t.Query, payload)
	scoped := ""
	if key != "" {
		scoped = "hook:" + trig.Path + ":" + key
		t.RequestFingerprint = requestFingerprint(trig.Path, payload, t.Query)
	}
	var hold *waitHold
	if trig.Respond == config.RespondOutput {
		// Subscribed before the run exists, its end cannot pass unseen.
		hold = a.holdWait()
		defer hold.done()
	}
	id, existed, err := a.rt.Trigger(r.Context(), wf.Name, t, scoped, IdempotencyTTL)
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		a.keyReused(w, key)
		return
	}
	if err != nil {
		a.runtimeError(w, r, public, "start run", err)
		return
	}
	a.storeUp()
	if existed {
		hold.done() // an older run: it may have ended before the hold
		hold = nil
	}
	if trig.Respond == config.RespondOutput && a.respondWithRun(w, r, id, trig.RespondTimeout, hold) {
		return
	}
	writeAccepted(w, id)
}

// writeAccepted writes the 202 answer of a webhook that started the run
// id: writeJSON's answer of hookResponse{RunIDs: []string{id}}, encoded
// without reflection into a pooled buffer, newline included, and written
// at once.
func writeAccepted(w http.ResponseWriter, id string) {
	buf := jsonenc.Buffer()
	defer jsonenc.Release(buf)
	b := append(*buf, `{"run_ids":[`...)
	b = jsonenc.AppendString(b, id)
	b = append(b, "]}\n"...)
	*buf = b
	setJSONHeaders(w.Header())
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(b)
}

// verifyHook checks the signature of a request to a webhook trigger with a
// secret: timestamped when the request carries X-Herald-Timestamp (or the
// trigger requires it), plain otherwise.
func (a *api) verifyHook(trig *config.Trigger, h http.Header, body []byte) error {
	stamps := h.Values(TimestampHeader)
	switch {
	case len(stamps) == 0 && trig.RequireTimestamp:
		return errors.New("missing " + TimestampHeader + " header: this webhook takes timestamped signatures only: " + timestampedForm)
	case len(stamps) == 0:
		return verifySignature(trig.Secret, body, h.Values(SignatureHeader))
	case len(stamps) > 1:
		return errors.New("more than one " + TimestampHeader + " header")
	}
	stamp := stamps[0]
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil || secs < 0 || strings.TrimLeft(stamp, "0123456789") != "" {
		return errors.New("malformed " + TimestampHeader + " header: want the Unix time in seconds, such as 1767225600")
	}
	// The signature first: without the secret, a sender learns nothing of
	// the host's clock.
	if err := verifySignature(trig.Secret, timestamped(stamp, body), h.Values(SignatureHeader)); err != nil {
		return fmt.Errorf("%w (signed with %s: %s)", err, TimestampHeader, timestampedForm)
	}
	tolerance := trig.TimestampTolerance
	if tolerance <= 0 {
		tolerance = config.DefaultTimestampTolerance
	}
	switch skew := a.now().Sub(time.Unix(secs, 0)); {
	case skew > tolerance:
		return fmt.Errorf("%s is %s old, more than the webhook's tolerance of %s: the request may be a replay; sign it again with the current time", TimestampHeader, skew.Round(time.Second), tolerance)
	case skew < -tolerance:
		return fmt.Errorf("%s is %s in the future, more than the webhook's tolerance of %s: check the sender's clock", TimestampHeader, (-skew).Round(time.Second), tolerance)
	}
	return nil
}

// timestampedForm says how a timestamped signature is made.
const timestampedForm = SignatureHeader + ": sha256=<hex HMAC-SHA256 of <timestamp>.<body>>"

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

// SignTimestamped returns the X-Herald-Signature value of body signed with
// secret at t, to send with X-Herald-Timestamp: t in Unix seconds, for
// senders and tests.
func SignTimestamped(secret string, t time.Time, body []byte) string {
	return Sign(secret, timestamped(strconv.FormatInt(t.Unix(), 10), body))
}

// timestamped returns what a timestamped signature covers: the timestamp, a
// dot, and the body.
func timestamped(stamp string, body []byte) []byte {
	return append(append([]byte(stamp), '.'), body...)
}

// bodyMAC is the HMAC-SHA256 of body with secret.
func bodyMAC(secret string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}
