package chatwoot_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// signatureVector is testdata/webhook_signature_example.json.
type signatureVector struct {
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	RawBody string            `json:"raw_body"`
}

func loadVector(t testing.TB) signatureVector {
	t.Helper()
	var v signatureVector
	require.NoError(t, json.Unmarshal(specFile(t, "webhook_signature_example.json"), &v))
	return v
}

func (v signatureVector) timestamp(t *testing.T) int64 {
	t.Helper()
	ts, err := strconv.ParseInt(v.Headers["X-Chatwoot-Timestamp"], 10, 64)
	require.NoError(t, err)
	return ts
}

func (v signatureVector) header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// webhookClient serves a provider whose clock reads now, over gRPC, with an
// instance configured with secret (none when empty) and tolerance.
func webhookClient(t *testing.T, now time.Time, secret, tolerance string) sdk.Client {
	t.Helper()
	p := chatwoot.New().(*chatwoot.Provider)
	p.Now = func() time.Time { return now }
	c := sdktest.Serve(t, p)
	cfg := fake.ProviderConfig("https://chat.example.com")
	delete(cfg, "webhook_secret")
	if secret != "" {
		cfg["webhook_secret"] = secret
	}
	if tolerance != "" {
		cfg["webhook_tolerance"] = tolerance
	}
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Configure(context.Background(), instance, raw))
	return c
}

func deliver(c sdk.Client, h http.Header, body []byte) ([]sdk.Event, error) {
	return c.HandleWebhook(context.Background(), &sdk.WebhookRequest{
		Instance: instance, Method: http.MethodPost, Path: "/providers/support/webhook", Header: h, Body: body,
	})
}

func requireUnverified(t *testing.T, err error) {
	t.Helper()
	var uv *sdk.UnverifiedError
	require.True(t, errors.As(err, &uv), "want an UnverifiedError, got %v", err)
}

func TestWebhookSignatureVector(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	ts := v.timestamp(t)
	require.Equal(t, v.Headers["X-Chatwoot-Signature"], fake.Sign(v.Secret, ts, []byte(v.RawBody)), "the fake signs as the vector says")

	c := webhookClient(t, time.Unix(ts+30, 0), v.Secret, "")
	events, err := deliver(c, v.header(), []byte(v.RawBody))
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "chatwoot.message_created", events[0].Type)
	require.Equal(t, v.Headers["X-Chatwoot-Delivery"], events[0].ID)
	require.JSONEq(t, v.RawBody, string(events[0].Data))

	t.Run("replayed delivery yields no events", func(t *testing.T) {
		events, err := deliver(c, v.header(), []byte(v.RawBody))
		require.NoError(t, err)
		require.Empty(t, events)
	})
}

func TestWebhookRejects(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	ts := v.timestamp(t)
	body := []byte(v.RawBody)
	signedAt := func(at int64) http.Header {
		h := v.header()
		h.Set("X-Chatwoot-Timestamp", strconv.FormatInt(at, 10))
		h.Set("X-Chatwoot-Signature", fake.Sign(v.Secret, at, body))
		return h
	}
	cases := []struct {
		name   string
		secret string
		now    time.Time
		header http.Header
		body   []byte
	}{
		{"tampered body", v.Secret, time.Unix(ts, 0), v.header(), []byte(v.RawBody[:len(v.RawBody)-2] + "X\"}")},
		{"wrong secret", "whsec_other", time.Unix(ts, 0), v.header(), body},
		{"stale timestamp", v.Secret, time.Unix(ts, 0).Add(5*time.Minute + time.Second), v.header(), body},
		{"timestamp from the future", v.Secret, time.Unix(ts, 0).Add(-5*time.Minute - time.Second), v.header(), body},
		{"re-signed with an old timestamp", v.Secret, time.Unix(ts, 0), signedAt(ts - 3600), body},
		{"timestamp changed after signing", v.Secret, time.Unix(ts, 0), func() http.Header {
			h := v.header()
			h.Set("X-Chatwoot-Timestamp", strconv.FormatInt(ts+1, 10))
			return h
		}(), body},
		{"missing signature", v.Secret, time.Unix(ts, 0), func() http.Header {
			h := v.header()
			h.Del("X-Chatwoot-Signature")
			return h
		}(), body},
		{"missing timestamp", v.Secret, time.Unix(ts, 0), func() http.Header {
			h := v.header()
			h.Del("X-Chatwoot-Timestamp")
			return h
		}(), body},
		{"signature without sha256= prefix", v.Secret, time.Unix(ts, 0), func() http.Header {
			h := v.header()
			h.Set("X-Chatwoot-Signature", h.Get("X-Chatwoot-Signature")[len("sha256="):])
			return h
		}(), body},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := webhookClient(t, tc.now, tc.secret, "")
			events, err := deliver(c, tc.header, tc.body)
			requireUnverified(t, err)
			require.Empty(t, events)
		})
	}

	t.Run("within a custom tolerance", func(t *testing.T) {
		t.Parallel()
		c := webhookClient(t, time.Unix(ts, 0).Add(20*time.Minute), v.Secret, "30m")
		events, err := deliver(c, v.header(), body)
		require.NoError(t, err)
		require.Len(t, events, 1)
	})
}

func TestWebhookReplayIsPerDelivery(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	ts := v.timestamp(t)
	c := webhookClient(t, time.Unix(ts, 0), v.Secret, "")
	body := []byte(v.RawBody)

	h := v.header()
	events, err := deliver(c, h, body)
	require.NoError(t, err)
	require.Len(t, events, 1)

	// A tampered replay is rejected, not silently dropped.
	_, err = deliver(c, h, append([]byte(" "), body...))
	requireUnverified(t, err)

	// Another delivery of the same payload is a new event.
	h2 := v.header()
	h2.Set("X-Chatwoot-Delivery", "another-delivery")
	events, err = deliver(c, h2, body)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "another-delivery", events[0].ID)

	events, err = deliver(c, h, body)
	require.NoError(t, err)
	require.Empty(t, events, "the first delivery is still remembered")
}

func TestWebhookFixturesBecomeEvents(t *testing.T) {
	t.Parallel()
	c := webhookClient(t, time.Now(), "", "")
	for file, want := range map[string]string{
		"webhook_message_created.json":                  "chatwoot.message_created",
		"webhook_conversation_created.json":             "chatwoot.conversation_created",
		"webhook_message_created.docs_2022_sample.json": "chatwoot.message_created",
	} {
		body := specFile(t, file)
		events, err := deliver(c, http.Header{"Content-Type": {"application/json"}}, body)
		require.NoError(t, err, file)
		require.Len(t, events, 1, file)
		require.Equal(t, want, events[0].Type, file)
		require.Empty(t, events[0].ID, "%s: no X-Chatwoot-Delivery, no event id", file)
		require.JSONEq(t, string(body), string(events[0].Data), file)
	}
}

func TestWebhookHeadersAnyCase(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	c := webhookClient(t, time.Unix(v.timestamp(t), 0), v.Secret, "")
	h := http.Header{}
	for k, val := range v.Headers {
		h[strings.ToLower(k)] = []string{val} // not canonical, as a proxy may pass them
	}
	events, err := deliver(c, h, []byte(v.RawBody))
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, v.Headers["X-Chatwoot-Delivery"], events[0].ID)
}

func TestWebhookMalformedPayload(t *testing.T) {
	t.Parallel()
	c := webhookClient(t, time.Now(), "", "")
	for _, body := range []string{``, `null`, `[]`, `{"id":1}`, `{"event":5}`, `{"event":"../../x"}`, `{"event":"Message Created"}`, `{"event":"message_created"`} {
		events, err := deliver(c, http.Header{}, []byte(body))
		require.Error(t, err, "body %q", body)
		require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class, "body %q", body)
		require.Empty(t, events)
	}
}

func TestWebhookEventsDeclared(t *testing.T) {
	t.Parallel()
	spec := chatwoot.New().Spec()
	for _, name := range []string{
		"message_created", "message_updated", "conversation_created", "conversation_status_changed",
		"conversation_updated", "conversation_typing_on", "conversation_typing_off", "contact_created",
		"contact_updated", "webwidget_triggered", "inbox_created", "inbox_updated",
	} {
		ev, ok := spec.Event("chatwoot." + name)
		require.True(t, ok, "event chatwoot.%s is not declared", name)
		require.NotNil(t, ev.Data)
		require.True(t, ev.Data.AdditionalFields, "chatwoot.%s: Chatwoot's payloads carry more than the declared fields", name)
	}
}
