package chatapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
		want  verdict
	}{
		{"started seconds before", sent, time.Unix(fixtureSent-3, 0), found},
		{"started in the same second, later than the whole-second time", sent, time.Unix(fixtureSent, 999_000_000), found},
		{"started the second after", sent, time.Unix(fixtureSent+1, 0), notFound},
		{"another body", lookup{ChatID: fixtureChat, Body: "Good morning dev"}, time.Unix(fixtureSent-3, 0), notFound},
		{"another chat", lookup{ChatID: "14155550999@c.us", Body: fixtureBody}, time.Unix(fixtureSent-3, 0), notFound},
		{"the contact's own message is not ours", lookup{ChatID: fixtureChat, Body: "Ack, on it"}, time.Unix(fixtureSent-3, 0), notFound},
		{"a text is not a file", lookup{ChatID: fixtureChat, File: true, Caption: ""}, time.Unix(fixtureSent-3, 0), notFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, m := findSent(list, tc.l, tc.since)
			require.Equal(t, tc.want, v)
			if v == found {
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
		require.Equal(t, unknown, v, body)
	}
	var list messageList
	require.NoError(t, json.Unmarshal([]byte(`{"messages": [], "lastMessageNumber": 7}`), &list))
	v, _ := findSent(list, l, time.Unix(fixtureSent, 0))
	require.Equal(t, notFound, v, "an instance with a history and nothing in this chat did not send")
}

func TestFindSentMatchesAFileByCaption(t *testing.T) {
	t.Parallel()
	list := messageList{Messages: &[]listedMessage{
		{ID: "true_a", Type: "image", FromMe: true, ChatID: fixtureChat, Time: fixtureSent, Body: "https://cdn.example/x.jpg", Caption: "Q3 report"},
	}}
	v, _ := findSent(list, lookup{ChatID: fixtureChat, File: true, Caption: "Q3 report"}, time.Unix(fixtureSent, 0))
	require.Equal(t, found, v)
	v, _ = findSent(list, lookup{ChatID: fixtureChat, File: true, Caption: "Q4 report"}, time.Unix(fixtureSent, 0))
	require.Equal(t, notFound, v)
	v, _ = findSent(list, lookup{ChatID: fixtureChat, Body: "Q3 report"}, time.Unix(fixtureSent, 0))
	require.Equal(t, notFound, v, "a file is not a text message")
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

func TestLookupSendAsksTheFake(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	f := fake.New()
	sb.Mount("chatapi", "/chatapi", f)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	p := newProvider(sdk.NewHTTP(5 * time.Second))
	cfg := sdk.Config(fake.ProviderConfig(srv.URL + "/chatapi"))
	call := func(action string, input map[string]any) *sdk.Call {
		return &sdk.Call{Instance: "chatapi", Action: action, Input: input, Config: cfg}
	}
	ctx := context.Background()
	msg := call("send_message", map[string]any{"phone": "14155550123", "body": "disk full on db-1"})
	start := time.Now()

	v, _, detail, err := p.lookupSend(ctx, msg, start)
	require.NoError(t, err)
	require.Equal(t, unknown, v, "a fresh instance lists nothing: %s", detail)

	// The answer to this send is dropped; the lookup finds it.
	sb.AddFault(sandbox.Fault{Provider: "chatapi", PathPrefix: "/instance229607/sendMessage", Drop: sandbox.DropClose, Count: 1})
	_, err = p.sendMessage(ctx, msg)
	require.Error(t, err, "the answer was dropped")
	v, out, detail, err := p.lookupSend(ctx, msg, start)
	require.NoError(t, err)
	require.Equal(t, found, v, detail)
	sent := f.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, sendOutput{Sent: true, ID: sent[0].ID, Message: "Sent to 14155550123@c.us"}, out, "the output is what send returns")

	// Another body in the same chat was not sent.
	v, _, _, err = p.lookupSend(ctx, call("send_message", map[string]any{"phone": "14155550123", "body": "disk ok"}), start)
	require.NoError(t, err)
	require.Equal(t, notFound, v)

	// A file, by its caption.
	file := call("send_file", map[string]any{"phone": "14155550123", "body": "data:text/plain;base64,aGk=", "filename": "r.txt", "caption": "the report"})
	_, err = p.sendFile(ctx, file)
	require.NoError(t, err)
	v, out, _, err = p.lookupSend(ctx, file, start)
	require.NoError(t, err)
	require.Equal(t, found, v)
	require.Equal(t, f.Sent()[1].ID, out.(sendOutput).ID)

	// A provider error is no answer.
	sb.AddFault(sandbox.Fault{Provider: "chatapi", PathPrefix: "/instance229607/messages", Status: http.StatusBadGateway, Count: 1})
	v, _, detail, err = p.lookupSend(ctx, msg, start)
	require.NoError(t, err)
	require.Equal(t, unknown, v)
	require.Contains(t, detail, "502")
}
