package engine

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/sdk"
)

// messageIDCases are send outputs whose message id messageID must read as
// sdk's DeliverySpec.MessageID does.
var messageIDCases = []string{
	`{"id":"m-1","status":"sent"}`, `{"status":"sent","id":42}`, `{"id":-7}`, `{"id":1.5}`,
	`{"id":12345678901234567890}`, `{"id":1e3}`, `{"id":"caf\u00e9"}`, `{"id":"a\"b"}`,
	`{"i\u0064":"escaped key"}`, `{"id":null}`, `{"id":true}`, `{"id":{"x":1}}`, `{"id":[1]}`,
	`{"id":""}`, `{"other":"x"}`, `{}`, `[{"id":"x"}]`, `"id"`, `null`, `{"id":"a","id":"b"}`,
	`{"id":"x"`, ` {"data":{"id":"inner"},"id" : "outer"} `, `{"id":"\xff"}`, `{"id":0}`,
}

// TestMessageIDIsTheSDKs checks messageID against sdk's MessageID for
// every case, with the field the chatapi provider declares.
func TestMessageIDIsTheSDKs(t *testing.T) {
	spec := &sdk.DeliverySpec{Event: "ack", OutputField: "id"}
	for _, out := range messageIDCases {
		if got, want := messageID(spec, json.RawMessage(out)), spec.MessageID(json.RawMessage(out)); got != want {
			t.Errorf("%s: messageID %q, sdk %q", out, got, want)
		}
	}
	if got := messageID(nil, json.RawMessage(`{"id":"x"}`)); got != "" {
		t.Errorf("no spec: %q", got)
	}
}

func FuzzMessageID(f *testing.F) {
	for _, out := range messageIDCases {
		f.Add(out, "id")
	}
	f.Fuzz(func(t *testing.T, out, field string) {
		spec := &sdk.DeliverySpec{Event: "ack", OutputField: field}
		if got, want := messageID(spec, json.RawMessage(out)), spec.MessageID(json.RawMessage(out)); got != want {
			t.Errorf("%q field %q: messageID %q, sdk %q", out, field, got, want)
		}
	})
}

// BenchmarkMessageID reads the message id of a Chat API send's output,
// through sdk's MessageID (sdk) and messageID (jsondec).
func BenchmarkMessageID(b *testing.B) {
	spec := &sdk.DeliverySpec{Event: "ack", OutputField: "id"}
	out := json.RawMessage(`{"sent":true,"id":"true_14155550123@c.us_3EB0C767D26A1D8E2F5A","message":"Sent to 14155550123@c.us"}`)
	for _, c := range []struct {
		name string
		read func(*sdk.DeliverySpec, json.RawMessage) string
	}{{"sdk", (*sdk.DeliverySpec).MessageID}, {"jsondec", messageID}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if c.read(spec, out) == "" {
					b.Fatal("no id")
				}
			}
		})
	}
}
