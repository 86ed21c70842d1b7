package smsgateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"

	"example.com/herald-provider-smsgateway/smsgateway"
)

// testToken and testSecret are distinctive, so a leak would show.
const (
	testToken  = "sms-token-3f9c2b71"
	testSecret = "sms-hook-secret-6d04"
)

// TestConformance runs the checks every Herald provider passes, over the
// real gRPC transport of the plugin protocol.
func TestConformance(t *testing.T) {
	sdktest.Conformance(t, smsgateway.New(), sdktest.Options{
		Config: func(baseURL string) map[string]any {
			return map[string]any{"base_url": baseURL, "token": testToken}
		},
		Fake: newFakeGateway(testToken),
		Inputs: map[string]map[string]any{
			"send_sms": {"to": "+14155550123", "text": "Your code is 4711"},
		},
	})
}

// setup serves the provider over gRPC with an instance configured against
// api and returns its client.
func setup(t *testing.T, api http.Handler) sdk.Client {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client := sdktest.Serve(t, smsgateway.New())
	cfg, err := json.Marshal(map[string]any{"base_url": srv.URL, "token": testToken, "webhook_secret": testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Configure(context.Background(), "sms", cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return client
}

func sendSMS(t *testing.T, client sdk.Client, input map[string]any, key string) (map[string]any, error) {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := client.Invoke(ctx, &sdk.InvokeRequest{Instance: "sms", Action: "send_sms", Input: raw, IdempotencyKey: key, Attempt: 1})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	return m, nil
}

func TestSendSMS(t *testing.T) {
	fake := newFakeGateway(testToken)
	client := setup(t, fake)

	out, err := sendSMS(t, client, map[string]any{"to": "+4915112345678", "text": "Deploy 1.2 is live"}, "run-1/notify")
	if err != nil {
		t.Fatalf("send_sms: %v", err)
	}
	if out["id"] != "msg-1" || out["status"] != "queued" {
		t.Errorf("output = %v, want id msg-1 and status queued", out)
	}
	// A retry of the same step carries the same key: the gateway sends once.
	again, err := sendSMS(t, client, map[string]any{"to": "+4915112345678", "text": "Deploy 1.2 is live"}, "run-1/notify")
	if err != nil {
		t.Fatalf("send_sms again: %v", err)
	}
	if again["id"] != "msg-1" {
		t.Errorf("retry got id %v, want the first message's msg-1", again["id"])
	}
	want := []fakeMessage{{ID: "msg-1", To: "+4915112345678", Text: "Deploy 1.2 is live", IdempotencyKey: "run-1/notify"}}
	if got := fake.sent(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("the gateway received %+v, want %+v", got, want)
	}
}

func TestSendSMSRejectsInvalidInput(t *testing.T) {
	fake := newFakeGateway(testToken)
	client := setup(t, fake)
	for name, tc := range map[string]struct {
		input map[string]any
		field string
	}{
		"number without plus": {map[string]any{"to": "14155550123", "text": "hi"}, "to"},
		"blank text":          {map[string]any{"to": "+14155550123", "text": "  "}, "text"},
		"empty text":          {map[string]any{"to": "+14155550123", "text": ""}, "text"},
		"sender too long":     {map[string]any{"to": "+14155550123", "text": "hi", "sender": "ACME Corporation"}, "sender"},
		"sender not a number": {map[string]any{"to": "+14155550123", "text": "hi", "sender": true}, "sender"},
		"short code too big":  {map[string]any{"to": "+14155550123", "text": "hi", "sender": 123456789}, "sender"},
		"unknown field":       {map[string]any{"to": "+14155550123", "text": "hi", "from": "me"}, "from"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sendSMS(t, client, tc.input, "k")
			e := sdk.AsError(err)
			if err == nil || e.Class != sdk.ClassPermanent || e.Field != tc.field {
				t.Errorf("got %v, want a permanent error about %q", err, tc.field)
			}
		})
	}
	if n := len(fake.sent()); n != 0 {
		t.Errorf("invalid inputs sent %d messages", n)
	}
}

func TestSendSMSWithoutMessageIDFails(t *testing.T) {
	client := setup(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"queued"}`))
	}))
	_, err := sendSMS(t, client, map[string]any{"to": "+14155550123", "text": "hi"}, "k")
	if e := sdk.AsError(err); err == nil || e.Class != sdk.ClassPermanent {
		t.Errorf("got %v, want a permanent error", err)
	}
}

func TestDeliveryWebhook(t *testing.T) {
	client := setup(t, http.NotFoundHandler())
	hook := func(body, signature string) ([]sdk.Event, error) {
		h := http.Header{}
		if signature != "" {
			h.Set(smsgateway.SignatureHeader, signature)
		}
		return client.HandleWebhook(context.Background(), &sdk.WebhookRequest{Instance: "sms", Method: http.MethodPost, Header: h, Body: []byte(body)})
	}
	delivered := `{"type":"delivery","message_id":"msg-7","to":"+14155550123","status":"delivered","delivered_at":"2026-03-01T09:00:03Z"}`

	events, err := hook(delivered, smsgateway.Sign(testSecret, []byte(delivered)))
	if err != nil {
		t.Fatalf("signed delivery report: %v", err)
	}
	if len(events) != 1 || events[0].Type != smsgateway.EventDelivered || events[0].ID != "msg-7" {
		t.Fatalf("events = %+v, want one %s with id msg-7", events, smsgateway.EventDelivered)
	}
	var data map[string]any
	if err := json.Unmarshal(events[0].Data, &data); err != nil || data["to"] != "+14155550123" {
		t.Errorf("event data = %s, want the report", events[0].Data)
	}

	for name, sig := range map[string]string{
		"unsigned":      "",
		"wrong secret":  smsgateway.Sign("another-secret", []byte(delivered)),
		"not sha256":    "md5=abc",
		"other payload": smsgateway.Sign(testSecret, []byte(`{}`)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := hook(delivered, sig)
			var uv *sdk.UnverifiedError
			if !errors.As(err, &uv) {
				t.Errorf("got %v, want an *sdk.UnverifiedError", err)
			}
		})
	}

	failed := `{"type":"delivery","message_id":"msg-8","status":"failed"}`
	events, err = hook(failed, smsgateway.Sign(testSecret, []byte(failed)))
	if err != nil || len(events) != 0 {
		t.Errorf("failed delivery report: events %+v, error %v; want no events", events, err)
	}
}

// TestSendSMSSender checks that a sender may be a name or a numeric short
// code, over both transports (sdktest.Serve is a sdktest.Transport).
func TestSendSMSSender(t *testing.T) {
	var _ sdktest.Transport = sdktest.Serve
	for name, serve := range sdktest.Transports {
		t.Run(name, func(t *testing.T) {
			var bodies []map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b map[string]any
				_ = json.NewDecoder(r.Body).Decode(&b)
				bodies = append(bodies, b)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":"m1","status":"queued"}`))
			}))
			t.Cleanup(srv.Close)
			client := serve(t, smsgateway.New())
			cfg, _ := json.Marshal(map[string]any{"base_url": srv.URL, "token": testToken})
			if err := client.Configure(context.Background(), "sms", cfg); err != nil {
				t.Fatal(err)
			}
			for _, sender := range []any{"ACME", 40404} {
				if _, err := sendSMS(t, client, map[string]any{"to": "+14155550123", "text": "hi", "sender": sender}, "k"); err != nil {
					t.Fatalf("sender %v: %v", sender, err)
				}
			}
			if len(bodies) != 2 || bodies[0]["sender"] != "ACME" || bodies[1]["sender"] != float64(40404) {
				t.Errorf("the gateway received %v", bodies)
			}
		})
	}
}

// TestSendSMSRateLimitedByTheBody checks that the wait the gateway gives in
// its 429 body reaches the host as the retry-after of a rate_limited error.
func TestSendSMSRateLimitedByTheBody(t *testing.T) {
	client := setup(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"slow down","retry_after":30}`))
	}))
	_, err := sendSMS(t, client, map[string]any{"to": "+14155550123", "text": "hi"}, "k")
	e := sdk.AsError(err)
	if err == nil || e.Class != sdk.ClassRateLimited || e.RetryAfter != 30*time.Second {
		t.Fatalf("got %v (%+v), want rate_limited after 30s", err, e)
	}
	if want := "provider answered HTTP 429: slow down"; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
}
