// Package httpapi serves Herald's HTTP API: webhook triggers, provider
// webhooks, the manual-trigger and run/workflow endpoints, health, readiness
// and metrics. It authenticates, limits and validates requests, then hands
// them to a Runtime; it never executes runs or touches plugins itself.
//
// Conventions every endpoint follows:
//
//   - Responses are JSON; an error is {"error": "..."} with every secret the
//     Options.Masker knows replaced by "***". A 5xx on the unauthenticated
//     webhook routes says only "internal error" and logs the detail.
//   - A path served with another method is 405 with an Allow header; an
//     unknown path is 404.
//   - Request bodies are capped at Options.MaxBody (1 MiB by default): 413
//     beyond it.
//   - /api/* requires "Authorization: Bearer <token>" when Options.Token is
//     set (401 with WWW-Authenticate otherwise). /hooks/* and
//     /providers/*/webhook are authenticated by their own signatures;
//     /healthz, /readyz and /metrics are open, so serve them on a private
//     address or behind a proxy when that matters.
//   - An Idempotency-Key header (at most 255 bytes of UTF-8 text) makes a
//     trigger idempotent for 24 hours: a repeat returns the first run. The
//     key is bound to its request's fingerprint (see requestFingerprint):
//     reused for another request it is 422.
//   - A webhook with a secret takes a signature of the body, or of
//     "<timestamp>.<body>" with the timestamp in X-Herald-Timestamp, which
//     must be within the trigger's tolerance of the clock.
//
// Status codes: 202 for an accepted trigger (also for a repeated
// Idempotency-Key, marked with "Idempotent-Replayed: true"), 200 for a
// provider webhook and for reads, 400 for a malformed request, 401, 404,
// 405, 413, 422 for a reused Idempotency-Key, 503 with Retry-After when the
// Runtime reports ErrUnavailable or store.ErrUnavailable, is not ready or
// times out, and 500 for anything else the Runtime returns. Store outages
// are logged when they start and end, not per request (see storeHealth).
package httpapi
