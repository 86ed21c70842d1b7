package chatapi

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatapi/fake"
)

func TestFakeListsSentMessagesLikeTheFixture(t *testing.T) {
	t.Parallel()
	e := serveFake(t)
	token := url.Values{"token": {fake.DefaultToken}}
	for _, tc := range []struct{ path, fixture string }{
		{"/instance229607/sendMessage", "sendMessage.request.chatId.json"},
		{"/instance229607/sendFile", "sendFile.request.json"},
		{"/instance229607/sendMessage", "sendMessage.request.chatId.json"},
	} {
		status, got := e.do(t, http.MethodPost, tc.path, token, fixture(t, tc.fixture))
		require.Equal(t, http.StatusOK, status, "%v", got)
	}

	group := url.Values{"token": {fake.DefaultToken}, "chatId": {"17680561234-1479621234@g.us"}, "last": {"true"}}
	status, list := e.do(t, http.MethodGet, "/instance229607/messages", group, nil)
	require.Equal(t, http.StatusOK, status)
	requireShape(t, fixture(t, "messages.response.json"), list)
	msgs := list.(map[string]any)["messages"].([]any)
	require.Len(t, msgs, 2, "the chatId filter keeps the group's messages")
	first := msgs[0].(map[string]any)
	require.Equal(t, "Hello group", first["body"])
	require.Equal(t, true, first["fromMe"])
	require.Equal(t, "chat", first["type"])
	require.EqualValues(t, 3, list.(map[string]any)["lastMessageNumber"])

	file := url.Values{"token": {fake.DefaultToken}, "chatId": {"17472822486@c.us"}}
	_, list = e.do(t, http.MethodGet, "/instance229607/messages", file, nil)
	msgs = list.(map[string]any)["messages"].([]any)
	require.Len(t, msgs, 1)
	m := msgs[0].(map[string]any)
	require.Equal(t, "image", m["type"])
	require.Equal(t, "Text under the file", m["caption"])
	require.NotContains(t, m["body"], "wikimedia", "Chat API lists its own copy of a file, not the URL it was sent from")

	after := url.Values{"token": {fake.DefaultToken}, "lastMessageNumber": {"2"}}
	_, list = e.do(t, http.MethodGet, "/instance229607/messages", after, nil)
	require.Len(t, list.(map[string]any)["messages"], 1, "lastMessageNumber lists only newer messages")

	status, _ = e.do(t, http.MethodGet, "/instance229607/messages", url.Values{"token": {"wrong"}}, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = e.do(t, http.MethodGet, "/instance229607/messages", url.Values{"token": {fake.DefaultToken}, "limit": {"x"}}, nil)
	require.Equal(t, http.StatusBadRequest, status)
}
