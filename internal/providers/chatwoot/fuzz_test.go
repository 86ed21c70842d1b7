package chatwoot_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/sdk"
)

// FuzzWebhook feeds the webhook handler arbitrary bodies and headers, signed
// and unsigned. It must not panic, must accept a signed delivery only when
// the signature and timestamp are right, and must turn an accepted body into
// at most one chatwoot.<event> event carrying the body.
func FuzzWebhook(f *testing.F) {
	v := loadVector(f)
	ts := v.Headers["X-Chatwoot-Timestamp"]
	f.Add([]byte(v.RawBody), v.Headers["X-Chatwoot-Signature"], ts, "d-1", true)
	for _, name := range []string{"webhook_message_created.json", "webhook_conversation_created.json", "webhook_message_created.docs_2022_sample.json"} {
		body := specFile(f, name)
		unix, _ := strconv.ParseInt(ts, 10, 64)
		f.Add(body, fake.Sign(v.Secret, unix, body), ts, name, true)
		f.Add(body, "", "", "", false)
	}
	f.Add([]byte(`{"event":"message_created"}`), "sha256=", "x", "", true)
	f.Add([]byte(`{"event":"`), "sha256=zz", "-99999999999999999999", "d", true)

	now, _ := strconv.ParseInt(ts, 10, 64)
	f.Fuzz(func(t *testing.T, body []byte, signature, timestamp, delivery string, signed bool) {
		p := chatwoot.New().(*chatwoot.Provider)
		p.Now = func() time.Time { return time.Unix(now, 0) }
		cfg := sdk.Config{"webhook_tolerance": "5m"}
		if signed {
			cfg["webhook_secret"] = v.Secret
		}
		h := http.Header{}
		h.Set("X-Chatwoot-Signature", signature)
		h.Set("X-Chatwoot-Timestamp", timestamp)
		h.Set("X-Chatwoot-Delivery", delivery)
		req := &sdk.WebhookRequest{Instance: instance, Config: cfg, Header: h, Body: body}

		events, err := p.HandleWebhook(context.Background(), req)
		if err != nil {
			var uv *sdk.UnverifiedError
			if !errors.As(err, &uv) && sdk.AsError(err).Class != sdk.ClassPermanent {
				t.Fatalf("error is neither unverified nor permanent: %v", err)
			}
			if len(events) != 0 {
				t.Fatalf("error %v with events %v", err, events)
			}
			return
		}
		// Header values reach a provider trimmed, as net/http parses them.
		signature, timestamp, delivery = strings.TrimSpace(signature), strings.TrimSpace(timestamp), strings.TrimSpace(delivery)
		if signed {
			mac := hmac.New(sha256.New, []byte(v.Secret))
			mac.Write([]byte(timestamp + "."))
			mac.Write(body)
			if signature != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
				t.Fatalf("accepted a delivery with a wrong signature %q for timestamp %q", signature, timestamp)
			}
			sent, perr := strconv.ParseInt(timestamp, 10, 64)
			if perr != nil {
				t.Fatalf("accepted a timestamp that is not a Unix time: %q", timestamp)
			}
			if d := now - sent; d > 300 || d < -300 {
				t.Fatalf("accepted a timestamp %d s away", d)
			}
		}
		if len(events) != 1 {
			t.Fatalf("accepted a delivery with %d events", len(events))
		}
		var payload struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal(events[0].Data, &payload); err != nil {
			t.Fatalf("event data is not JSON: %v", err)
		}
		if events[0].Type != "chatwoot."+payload.Event || events[0].ID != delivery {
			t.Fatalf("event %s id %q from body event %q delivery %q", events[0].Type, events[0].ID, payload.Event, delivery)
		}
		if again, err := p.HandleWebhook(context.Background(), req); delivery != "" && (err != nil || len(again) != 0) {
			t.Fatalf("replay of delivery %q gave %v, %v", delivery, again, err)
		}
	})
}
