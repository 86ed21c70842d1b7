package httpapi_test

import (
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

// stampedHCL adds a webhook that takes timestamped signatures only, with a
// tolerance of one minute.
const stampedHCL = `
workflow "stamped" {
  trigger "webhook" {
    path                = "stamped"
    secret              = "{{ secrets.HOOK_SECRET }}"
    require_timestamp   = true
    timestamp_tolerance = "1m"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}
`

// setupStamped is setup with the stamped workflow added to the project.
func setupStamped(t *testing.T) *fixture {
	t.Helper()
	secrets := map[string]string{"HOOK_SECRET": hookSecret, "CHATAPI_TOKEN": chatapiToken}
	p, diags := config.LoadSources([]config.Source{
		{Name: "project.hcl", Data: []byte(projectHCL)},
		{Name: "stamped.hcl", Data: []byte(stampedHCL)},
	}, config.LoadOptions{Secret: func(name string) (string, bool) { v, ok := secrets[name]; return v, ok }})
	require.False(t, diags.HasErrors(), "%v", diags)
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
	rt := &fakeRuntime{project: p, st: st}
	return &fixture{rt: rt, now: now, h: httpapi.New(rt, httpapi.Options{Now: func() time.Time { return now }})}
}

// stamped returns the headers of a request signed with secret at t.
func stamped(secret string, t time.Time, body string) []string {
	return []string{
		httpapi.TimestampHeader, strconv.FormatInt(t.Unix(), 10),
		httpapi.SignatureHeader, httpapi.SignTimestamped(secret, t, []byte(body)),
	}
}

func TestHookTimestampedSignature(t *testing.T) {
	t.Parallel()
	f := setupStamped(t)
	accepted := func(path string, headers []string) {
		t.Helper()
		w := f.do(t, "POST", path, strReader(hookBody), headers...)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	}
	refused := func(path string, headers []string) string {
		t.Helper()
		w := f.do(t, "POST", path, strReader(hookBody), headers...)
		msg := errorOf(t, w, http.StatusUnauthorized)
		requireNoSecret(t, msg)
		return msg
	}

	// Valid: signed now, or within the tolerance either way. A trigger
	// that does not require timestamps takes both forms, with the default
	// tolerance of five minutes.
	for _, at := range []time.Time{f.now, f.now.Add(-59 * time.Second), f.now.Add(59 * time.Second)} {
		accepted("/hooks/stamped", stamped(hookSecret, at, hookBody))
	}
	accepted("/hooks/signed", stamped(hookSecret, f.now.Add(-4*time.Minute), hookBody))
	accepted("/hooks/signed", signed(hookSecret, hookBody))

	// Stale: a replay of a request captured earlier.
	msg := refused("/hooks/stamped", stamped(hookSecret, f.now.Add(-61*time.Second), hookBody))
	require.Equal(t, "X-Herald-Timestamp is 1m1s old, more than the webhook's tolerance of 1m0s: the request may be a replay; sign it again with the current time", msg)
	msg = refused("/hooks/signed", stamped(hookSecret, f.now.Add(-6*time.Minute), hookBody))
	require.Contains(t, msg, "is 6m0s old, more than the webhook's tolerance of 5m0s")

	// Future: a sender whose clock runs ahead.
	msg = refused("/hooks/stamped", stamped(hookSecret, f.now.Add(2*time.Minute), hookBody))
	require.Equal(t, "X-Herald-Timestamp is 2m0s in the future, more than the webhook's tolerance of 1m0s: check the sender's clock", msg)

	// Tampered: a stale request given a fresh timestamp keeps the old
	// signature, which does not cover the new time.
	old := stamped(hookSecret, f.now.Add(-time.Hour), hookBody)
	old[1] = strconv.FormatInt(f.now.Unix(), 10)
	msg = refused("/hooks/stamped", old)
	require.Contains(t, msg, "X-Herald-Signature does not match the body")
	require.Contains(t, msg, "<timestamp>.<body>")
	// A signature over the body alone does not do with a timestamp.
	msg = refused("/hooks/stamped", []string{
		httpapi.TimestampHeader, strconv.FormatInt(f.now.Unix(), 10),
		httpapi.SignatureHeader, httpapi.Sign(hookSecret, []byte(hookBody)),
	})
	require.Contains(t, msg, "does not match")
	// The wrong secret, however fresh.
	refused("/hooks/stamped", stamped("wrong-secret", f.now, hookBody))

	// The plain form where the trigger requires a timestamp.
	msg = refused("/hooks/stamped", signed(hookSecret, hookBody))
	require.Equal(t, "missing X-Herald-Timestamp header: this webhook takes timestamped signatures only: X-Herald-Signature: sha256=<hex HMAC-SHA256 of <timestamp>.<body>>", msg)

	// Malformed timestamps.
	for _, stamp := range []string{"", "soon", "-5", "+1772440200", " 1772440200", "1772440200.5", "1e9", "99999999999999999999"} {
		headers := stamped(hookSecret, f.now, hookBody)
		headers[1] = stamp
		require.Contains(t, refused("/hooks/stamped", headers), "malformed X-Herald-Timestamp header", "%q", stamp)
	}
	two := append(stamped(hookSecret, f.now, hookBody), httpapi.TimestampHeader, "1")
	require.Equal(t, "more than one X-Herald-Timestamp header", refused("/hooks/stamped", two))

	require.Len(t, f.rt.triggerCalls(), 5, "only the accepted requests start runs")
}
