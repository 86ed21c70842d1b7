package chatwoot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
)

// lookupEnv is the provider talking to a fake in a sandbox, with calls made
// directly (the lookups' logic, below the protocol).
type lookupEnv struct {
	p    *Provider
	fake *fake.Fake
	sb   *sandbox.Sandbox
	cfg  sdk.Config
}

func setupLookup(t *testing.T) *lookupEnv {
	t.Helper()
	f := fake.New()
	sb := sandbox.New()
	sb.Mount("chatwoot", "/chatwoot", f)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	cfg := fake.ProviderConfig(srv.URL + "/chatwoot")
	// The config as the host hands it over: JSON numbers.
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	var c sdk.Config
	require.NoError(t, json.Unmarshal(raw, &c))
	return &lookupEnv{p: New().(*Provider), fake: f, sb: sb, cfg: c}
}

func (e *lookupEnv) call(action string, input map[string]any) *sdk.Call {
	raw, _ := json.Marshal(input)
	var in map[string]any
	_ = json.Unmarshal(raw, &in)
	return &sdk.Call{Instance: "support", Action: action, Input: in, Config: e.cfg, IdempotencyKey: "run-1/notify/0", Attempt: 1}
}

func TestLookupSendMessageStageByStage(t *testing.T) {
	t.Parallel()
	e := setupLookup(t)
	ctx := context.Background()
	start := time.Now()
	input := map[string]any{"contact": map[string]any{"identifier": "crm-7", "name": "Ana"}, "content": "db-1 disk full"}
	send := e.call("send_message", input)

	res, err := e.p.reconcileSendMessage(ctx, send, start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, res.Status, "no contact yet: %s", res.Detail)

	// The contact exists, with a conversation, but not the message.
	other := e.call("send_message", map[string]any{"contact": map[string]any{"identifier": "crm-7"}, "content": "earlier note"})
	_, err = e.p.sendMessage(ctx, other)
	require.NoError(t, err)
	res, err = e.p.reconcileSendMessage(ctx, send, start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, res.Status, res.Detail)

	// The send's answer is lost; the lookup finds the message.
	e.sb.AddFault(sandbox.Fault{Provider: "chatwoot", PathPrefix: "/api/v1/accounts/1/conversations/", Drop: sandbox.DropClose, Count: 1})
	_, err = e.p.sendMessage(ctx, send)
	require.Error(t, err, "the answer was dropped")
	msgs := e.fake.Messages()
	require.Len(t, msgs, 2, "the message was created")
	res, err = e.p.reconcileSendMessage(ctx, send, start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileFound, res.Status, res.Detail)
	out, err := json.Marshal(res.Output)
	require.NoError(t, err)
	conv := e.fake.Conversations()[0]
	contact := e.fake.Contacts()[0]
	require.JSONEq(t, `{"contact_id": `+itoa(contact.ID)+`, "source_id": "`+conv.SourceID+`", "conversation_id": `+itoa(conv.ID)+`, "message_id": `+itoa(msgs[1].ID)+`}`, string(out),
		"the output is what send_message returns")

	// A send that started after the message was created does not match it.
	res, err = e.p.reconcileSendMessage(ctx, send, time.Now().Add(2*time.Second))
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, res.Status)

	// A failing lookup is no answer.
	e.sb.AddFault(sandbox.Fault{Provider: "chatwoot", PathPrefix: "/api/v1/accounts/1/contacts/search", Status: http.StatusServiceUnavailable, Count: 1})
	res, err = e.p.reconcileSendMessage(ctx, send, start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileUnknown, res.Status)
	require.Contains(t, res.Detail, "search contacts")
}

func TestLookupMessageReadsBackPastAPage(t *testing.T) {
	t.Parallel()
	e := setupLookup(t)
	ctx := context.Background()
	base := e.call("send_message", map[string]any{"contact": map[string]any{"email": "ops@example.com"}, "content": "first"})
	out, err := e.p.sendMessage(ctx, base)
	require.NoError(t, err)
	convID := out.(map[string]any)["conversation_id"].(recordID).n
	start := time.Now()
	create := func(content string, private bool) *sdk.Call {
		return e.call("create_message", map[string]any{"conversation_id": convID, "content": content, "private": private})
	}
	_, err = e.p.createMessage(ctx, create("the one", false))
	require.NoError(t, err)
	// Bury it under more than a page of newer messages.
	for range 45 {
		_, err = e.p.createMessage(ctx, create("noise", false))
		require.NoError(t, err)
	}
	res, err := e.p.reconcileMessage(ctx, create("the one", false), start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileFound, res.Status, res.Detail)
	require.Equal(t, e.fake.Messages()[1].ID, res.Output.(map[string]any)["message_id"].(recordID).n)

	res, err = e.p.reconcileMessage(ctx, create("the one", true), start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, res.Status, "a private note is another message")

	res, err = e.p.reconcileMessage(ctx, e.call("create_message", map[string]any{"conversation_id": 999, "content": "x"}), start)
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, res.Status, "a conversation that does not exist holds no message")
}

func TestLookupContactByIdentifier(t *testing.T) {
	t.Parallel()
	e := setupLookup(t)
	ctx := context.Background()
	create := e.call("create_contact", map[string]any{"identifier": "crm-42", "name": "Jo"})
	res, err := e.p.reconcileContact(ctx, create, time.Now())
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileNotFound, res.Status)

	out, err := e.p.createContact(ctx, create)
	require.NoError(t, err)
	res, err = e.p.reconcileContact(ctx, create, time.Now())
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileFound, res.Status, res.Detail)
	want, _ := json.Marshal(out)
	got, _ := json.Marshal(res.Output)
	require.JSONEq(t, string(want), string(got), "the output is what create_contact returns")

	res, err = e.p.reconcileContact(ctx, e.call("create_contact", map[string]any{"name": "Nameless"}), time.Now())
	require.NoError(t, err)
	require.Equal(t, sdk.ReconcileUnknown, res.Status, "a name alone cannot be looked up")
}

func TestMessageMatching(t *testing.T) {
	t.Parallel()
	since := time.Unix(1764918000, 700_000_000)
	text := func(s string) *string { return &s }
	w := wantMessage{Content: "hi", Outgoing: true, EchoID: "run-1/a/0"}
	for _, tc := range []struct {
		name string
		m    listedMessage
		want bool
	}{
		{"same second as the start", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`1`), CreatedAt: 1764918000}, true},
		{"a second before", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`1`), CreatedAt: 1764917999}, false},
		{"incoming", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`0`), CreatedAt: 1764918001}, false},
		{"type by name", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`"outgoing"`), CreatedAt: 1764918001}, true},
		{"private", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`1`), Private: true, CreatedAt: 1764918001}, false},
		{"other content", listedMessage{Content: text("hello"), MessageType: json.RawMessage(`1`), CreatedAt: 1764918001}, false},
		{"another call's echo_id", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`1`), CreatedAt: 1764918001, EchoID: text("run-2/a/0")}, false},
		{"this call's echo_id", listedMessage{Content: text("hi"), MessageType: json.RawMessage(`1`), CreatedAt: 1764918001, EchoID: text("run-1/a/0")}, true},
	} {
		require.Equal(t, tc.want, w.matches(tc.m, since), tc.name)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// FuzzMessageMatching decodes arbitrary listed messages: matching never
// panics, and a match without echo_id has the content, type and privacy
// wanted and is not older than the start's second.
func FuzzMessageMatching(f *testing.F) {
	f.Add([]byte(`{"id": 1, "content": "hi", "message_type": 1, "private": false, "created_at": 1764918000}`), "hi", int64(1764918000))
	f.Add([]byte(`{"id": 2, "content": null, "message_type": "outgoing", "echo_id": "k"}`), "", int64(0))
	f.Fuzz(func(t *testing.T, raw []byte, content string, sinceUnix int64) {
		var m listedMessage
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		w := wantMessage{Content: content, Outgoing: true, EchoID: "k"}
		if !w.matches(m, time.Unix(sinceUnix, 0)) {
			return
		}
		if m.EchoID != nil && *m.EchoID != "" {
			if *m.EchoID != "k" {
				t.Fatalf("matched another call's echo_id: %+v", m)
			}
			return
		}
		if m.Content == nil || *m.Content != content || !outgoing(m.MessageType) || m.Private || m.CreatedAt < sinceUnix {
			t.Fatalf("matched a message that is not the send: %+v", m)
		}
	})
}
