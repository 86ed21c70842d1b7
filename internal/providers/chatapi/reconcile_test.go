package chatapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatapi/fake"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
)

// fixtureList is testdata/messages.response.json: an outgoing message to
// 14155550123@c.us at 1764918000 and the contact's reply 42 s later.
func fixtureList(t *testing.T) messageList {
	t.Helper()
	var list messageList
	require.NoError(t, json.Unmarshal(fixture(t, "messages.response.json"), &list))
	return list
}

const (
	fixtureChat = "14155550123@c.us"
	fixtureBody = "Good morning ops, you are on call today."
	fixtureSent = 1764918000
)

func TestFindSentMatchesTheFixture(t *testing.T) {
	t.Parallel()
	list := fixtureList(t)
	sent := lookup{ChatID: fixtureChat, Body: fixtureBody}
	for _, tc := range []struct {
		name  string
		l     lookup
		since time.Time
		want  sdk.ReconcileStatus
	}{
		{"started seconds before", sent, time.Unix(fixtureSent-3, 0), sdk.ReconcileFound},
		{"started in the same second, later than the whole-second time", sent, time.Unix(fixtureSent, 999_000_000), sdk.ReconcileFound},
		{"started the second after", sent, time.Unix(fixtureSent+1, 0), sdk.ReconcileNotFound},
		{"another body", lookup{ChatID: fixtureChat, Body: "Good morning dev"}, time.Unix(fixtureSent-3, 0), sdk.ReconcileNotFound},
		{"another chat", lookup{ChatID: "14155550999@c.us", Body: fixtureBody}, time.Unix(fixtureSent-3, 0), sdk.ReconcileNotFound},
		{"the contact's own message is not ours", lookup{ChatID: fixtureChat, Body: "Ack, on it"}, time.Unix(fixtureSent-3, 0), sdk.ReconcileNotFound},
		{"a text is not a file", lookup{ChatID: fixtureChat, File: true, Caption: ""}, time.Unix(fixtureSent-3, 0), sdk.ReconcileNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, m := findSent(list, tc.l, tc.since)
			require.Equal(t, tc.want, v)
			if v == sdk.ReconcileFound {
				require.Equal(t, "true_14155550123@c.us_3EB0F6A1B2C3D4E5F601", m.ID)
			}
		})
	}
}

func TestFindSentIsUnknownWithoutAHistory(t *testing.T) {
	t.Parallel()
	l := lookup{ChatID: fixtureChat, Body: fixtureBody}
	for _, body := range []string{`{}`, `{"messages": null}`, `{"messages": [], "lastMessageNumber": 0}`} {
		var list messageList
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		v, _ := findSent(list, l, time.Unix(fixtureSent, 0))
		require.Equal(t, sdk.ReconcileUnknown, v, body)
	}
	var list messageList
	require.NoError(t, json.Unmarshal([]byte(`{"messages": [], "lastMessageNumber": 7}`), &list))
	v, _ := findSent(list, l, time.Unix(fixtureSent, 0))
	require.Equal(t, sdk.ReconcileNotFound, v, "an instance with a history and nothing in this chat did not send")
}

func TestFindSentMatchesAFileByCaption(t *testing.T) {
	t.Parallel()
	list := messageList{Messages: &[]listedMessage{
		{ID: "true_a", Type: "image", FromMe: true, ChatID: fixtureChat, Time: fixtureSent, Body: "https://cdn.example/x.jpg", Caption: "Q3 report"},
	}}
	v, _ := findSent(list, lookup{ChatID: fixtureChat, File: true, Caption: "Q3 report"}, time.Unix(fixtureSent, 0))
	require.Equal(t, sdk.ReconcileFound, v)
	v, _ = findSent(list, lookup{ChatID: fixtureChat, File: true, Caption: "Q4 report"}, time.Unix(fixtureSent, 0))
	require.Equal(t, sdk.ReconcileNotFound, v)
	v, _ = findSent(list, lookup{ChatID: fixtureChat, Body: "Q3 report"}, time.Unix(fixtureSent, 0))
	require.Equal(t, sdk.ReconcileNotFound, v, "a file is not a text message")
}

func TestSendLookupReadsTheRequestAsChatAPIDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		action   string
		input    map[string]any
		override map[string]any
		want     lookup
	}{
		{"phone", "send_message", map[string]any{"phone": "14155550123", "body": "hi"}, nil, lookup{ChatID: fixtureChat, Body: "hi"}},
		{"chat id", "send_message", map[string]any{"chat_id": "1-2@g.us", "body": "hi"}, nil, lookup{ChatID: "1-2@g.us", Body: "hi"}},
		{"override body and chat", "send_message", map[string]any{"phone": "14155550123", "body": "hi"},
			map[string]any{"body": "hello", "chatId": "1-2@g.us"}, lookup{ChatID: "1-2@g.us", Body: "hello"}},
		{"override phone as a number", "send_message", map[string]any{"phone": "14155550123", "body": "hi"},
			map[string]any{"phone": float64(14155550999)}, lookup{ChatID: "14155550999@c.us", Body: "hi"}},
		{"file", "send_file", map[string]any{"phone": "14155550123", "body": "https://x/y.pdf", "filename": "y.pdf", "caption": "c"}, nil,
			lookup{ChatID: fixtureChat, File: true, Body: "https://x/y.pdf", Caption: "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sendLookup(&sdk.Call{Action: tc.action, Input: tc.input, BodyOverride: tc.override})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := sendLookup(&sdk.Call{Action: "send_message", Input: map[string]any{"phone": "14155550123", "body": " "}})
	require.Error(t, err, "the send's own input checks apply")
}

// reconcile asks the provider, over e's transport, whether the send of
// action with input that started at since went out.
func (e *env) reconcile(t *testing.T, action string, input any, since time.Time, mods ...func(*sdk.InvokeRequest)) *sdk.Reconciliation {
	t.Helper()
	raw, err := json.Marshal(input)
	require.NoError(t, err)
	req := &sdk.ReconcileRequest{
		InvokeRequest: sdk.InvokeRequest{Instance: testInstance, Action: action, Input: raw, IdempotencyKey: "run-1/step-1/0", Attempt: 1},
		Since:         since,
	}
	for _, m := range mods {
		m(&req.InvokeRequest)
	}
	rec, err := e.client.(sdk.Reconciler).Reconcile(context.Background(), req)
	require.NoError(t, err)
	return rec
}

func TestReconcileAsksTheFake(t *testing.T) {
	t.Parallel()
	f := fake.New()
	f.AddInstance(testInstanceID, testToken)
	e := setup(t, grpc, newProvider(sdk.NewHTTP(5*time.Second)), f)
	msg := map[string]any{"phone": "14155550123", "body": "disk full on db-1"}
	start := time.Now()

	rec := e.reconcile(t, "send_message", msg, start)
	require.Equal(t, sdk.ReconcileUnknown, rec.Status, "a fresh instance lists nothing: %s", rec.Detail)

	// The answer to this send is dropped; the lookup finds it.
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", PathPrefix: "/instance229607/sendMessage", Drop: sandbox.DropClose, Count: 1})
	_, err := e.invoke(t, "send_message", msg)
	require.Error(t, err, "the answer was dropped")
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "a send whose answer is lost is in doubt: %v", err)
	rec = e.reconcile(t, "send_message", msg, start)
	require.Equal(t, sdk.ReconcileFound, rec.Status, rec.Detail)
	sent := f.Sent()
	require.Len(t, sent, 1)
	want, _ := json.Marshal(sendOutput{Sent: true, ID: sent[0].ID, Message: "Sent to 14155550123@c.us"})
	require.JSONEq(t, string(want), string(rec.Output.(json.RawMessage)), "the output is what send returns")

	// Another body in the same chat was not sent; with override.body it was.
	rec = e.reconcile(t, "send_message", map[string]any{"phone": "14155550123", "body": "disk ok"}, start)
	require.Equal(t, sdk.ReconcileNotFound, rec.Status, rec.Detail)
	rec = e.reconcile(t, "send_message", map[string]any{"phone": "14155550123", "body": "disk ok"}, start, func(r *sdk.InvokeRequest) {
		r.BodyOverride = json.RawMessage(`{"body": "disk full on db-1"}`)
	})
	require.Equal(t, sdk.ReconcileFound, rec.Status, "the lookup reads the body the send posted, override included")

	// A file, by its caption.
	file := map[string]any{"phone": "14155550123", "body": "data:text/plain;base64,aGk=", "filename": "r.txt", "caption": "the report"}
	_, err = e.invoke(t, "send_file", file)
	require.NoError(t, err)
	rec = e.reconcile(t, "send_file", file, start)
	require.Equal(t, sdk.ReconcileFound, rec.Status, rec.Detail)
	require.Contains(t, string(rec.Output.(json.RawMessage)), f.Sent()[1].ID)

	// A provider error is no answer, and the token never shows.
	e.sb.AddFault(sandbox.Fault{Provider: "chatapi", PathPrefix: "/instance229607/messages", Status: http.StatusBadGateway, Count: 1})
	rec = e.reconcile(t, "send_message", msg, start)
	require.Equal(t, sdk.ReconcileUnknown, rec.Status)
	require.Contains(t, rec.Detail, "502")
	require.NotContains(t, rec.Detail, testToken)

	// The lookups were GETs only: the two sends are all the fake got.
	require.Len(t, f.Sent(), 2)
}

func TestDescribeDeclaresTheReconcilingActions(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(5*time.Second)), fake.New())
	spec, err := e.client.Describe(context.Background())
	require.NoError(t, err)
	got := map[string]bool{}
	for _, a := range spec.Actions {
		got[a.Name] = a.CanReconcile()
	}
	require.Equal(t, map[string]bool{
		"send_message": true, "send_file": true,
		"status": false, "create_instance": false, "list_instances": false, "delete_instance": false,
	}, got)
}

// FuzzFindSent reads arbitrary GET /messages answers: it never panics, and
// a found message really is an outgoing one in the chat, at or after the
// start's second, with the text.
func FuzzFindSent(f *testing.F) {
	f.Add(fixture(f, "messages.response.json"), fixtureBody, int64(fixtureSent))
	f.Add([]byte(`{"messages": [], "lastMessageNumber": 3}`), "x", int64(0))
	f.Add([]byte(`{"messages": [{"fromMe": true, "chatId": "14155550123@c.us", "type": "chat", "body": "", "time": -1}]}`), "", int64(-5))
	f.Fuzz(func(t *testing.T, body []byte, text string, sinceUnix int64) {
		var list messageList
		if json.Unmarshal(body, &list) != nil {
			return
		}
		since := time.Unix(sinceUnix, 0)
		l := lookup{ChatID: fixtureChat, Body: text}
		status, m := findSent(list, l, since)
		if status != sdk.ReconcileFound {
			return
		}
		if !m.FromMe || m.ChatID != fixtureChat || m.Body != text || m.Type != "chat" || m.Time < sinceUnix {
			t.Fatalf("found a message that is not the send: %+v", m)
		}
	})
}
