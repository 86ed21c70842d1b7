package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// requestFingerprint identifies what a request asks for, so that a repeat
// of its Idempotency-Key can be told from a different request that reuses
// the key: the SHA-256 of the target (the workflow, or the hook path) and
// the decoded request (body, and for hooks the query). It compares meaning,
// not bytes: the same JSON sent with other spacing or key order is the same
// request. Headers are left out, as senders vary them between retries
// (request IDs, timestamps, signatures).
func requestFingerprint(target string, request ...any) string {
	// The values were decoded from JSON, forms or text, so they encode;
	// json.Marshal sorts object keys, so equal values encode alike.
	b, err := json.Marshal(append([]any{target}, request...))
	if err != nil {
		b = []byte(err.Error()) // unreachable; still a stable fingerprint
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// keyReused answers a trigger whose Idempotency-Key names a run created by a
// different request: 422, as Stripe answers, since retrying the same request
// cannot succeed.
func (a *api) keyReused(w http.ResponseWriter, key string) {
	a.fail(w, http.StatusUnprocessableEntity,
		"Idempotency-Key reused with a different request body: key %q was used for another request within the last %s; send a new key for a new request, or repeat the first request exactly",
		key, idempotencyWindow)
}

// idempotencyWindow spells IdempotencyTTL for messages.
const idempotencyWindow = "24 hours"
