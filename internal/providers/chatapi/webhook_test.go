package chatapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// webhook delivers body to the test instance's webhook with the token in
// the URL's query.
func (e *env) webhook(t *testing.T, body []byte, token string) ([]sdk.Event, error) {
	t.Helper()
	query := url.Values{}
	if token != "" {
		query.Set("token", token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.client.HandleWebhook(ctx, &sdk.WebhookRequest{
		Instance: testInstance,
		Method:   http.MethodPost,
		Path:     "/providers/" + testInstance + "/webhook",
		Header:   http.Header{"Content-Type": {"application/json"}},
		Query:    query,
		Body:     body,
	})
}

// withInstanceID returns the element at key[0] of the envelope fixture with
// the envelope's instanceId added, as an event carries it.
func withInstanceID(t *testing.T, name, key string) string {
	t.Helper()
	var env map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(fixture(t, name), &env))
	var elements []map[string]any
	require.NoError(t, json.Unmarshal(env[key], &elements))
	var instanceID any
	require.NoError(t, json.Unmarshal(env["instanceId"], &instanceID))
	elements[0]["instanceId"] = instanceID
	b, err := json.Marshal(elements[0])
	require.NoError(t, err)
	return string(b)
}

func TestWebhookFixturesBecomeEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture, key string
		typ, id      string
	}{
		{"webhook_messages.json", "messages", EventMessage, "false_17472822486@c.us_AF3E2B1636F9EDB87F80D90CF6A76413"},
		{"webhook_ack.json", "ack", EventAck, "true_17472822486@c.us_3EB0C431C26A1916603A:delivered"},
		{"webhook_chatUpdate.json", "chatUpdate", EventChatUpdate, ""},
	}
	for transportName, serve := range transports {
		for _, tc := range cases {
			t.Run(transportName+"/"+tc.fixture, func(t *testing.T) {
				t.Parallel()
				e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
				events, err := e.webhook(t, fixture(t, tc.fixture), testWebhookToken)
				require.NoError(t, err)
				require.Len(t, events, 1)
				require.Equal(t, tc.typ, events[0].Type)
				require.Equal(t, tc.id, events[0].ID)
				require.JSONEq(t, withInstanceID(t, tc.fixture, tc.key), string(events[0].Data))
				require.Empty(t, e.requests(""), "handling a webhook calls no API")
			})
		}
	}
}

func TestWebhookEventsMatchTheirDeclaredData(t *testing.T) {
	t.Parallel()
	spec := New().Spec()
	for _, name := range []string{"webhook_messages.json", "webhook_ack.json", "webhook_chatUpdate.json"} {
		events, err := New().(sdk.WebhookHandler).HandleWebhook(context.Background(), &sdk.WebhookRequest{Body: fixture(t, name)})
		require.NoError(t, err)
		for _, ev := range events {
			declared, ok := spec.Event(ev.Type)
			require.True(t, ok, "event %s is not declared", ev.Type)
			var data map[string]any
			require.NoError(t, json.Unmarshal(ev.Data, &data))
			require.Empty(t, declared.Data.Validate(data, sdk.ValidateOptions{}), "%s from %s", ev.Type, name)
		}
	}
}

func TestWebhookEmitsOneEventPerElementInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	body := `{"instanceId": 229607,
		"messages": [{"id": "false_1@c.us_A", "body": "one"}, {"id": "false_1@c.us_B", "body": "two", "instanceId": "other"}],
		"ack": [{"id": "true_1@c.us_C", "status": "sent"}, {"id": "true_1@c.us_C", "status": "viewed"}]}`
	events, err := e.webhook(t, []byte(body), testWebhookToken)
	require.NoError(t, err)
	var got [][3]string
	for _, ev := range events {
		got = append(got, [3]string{ev.Type, ev.ID, string(ev.Data)})
	}
	require.Equal(t, [][3]string{
		{EventMessage, "false_1@c.us_A", `{"body":"one","id":"false_1@c.us_A","instanceId":229607}`},
		{EventMessage, "false_1@c.us_B", `{"id": "false_1@c.us_B", "body": "two", "instanceId": "other"}`},
		{EventAck, "true_1@c.us_C:sent", `{"id":"true_1@c.us_C","instanceId":229607,"status":"sent"}`},
		{EventAck, "true_1@c.us_C:viewed", `{"id":"true_1@c.us_C","instanceId":229607,"status":"viewed"}`},
	}, got)
}

func TestWebhookTokenIsChecked(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_messages.json")
	for transportName, serve := range transports {
		t.Run(transportName, func(t *testing.T) {
			t.Parallel()
			e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
			for _, token := range []string{"", "wrong", testWebhookToken + "x", testWebhookToken[:len(testWebhookToken)-1]} {
				_, err := e.webhook(t, body, token)
				var unverified *sdk.UnverifiedError
				require.True(t, errors.As(err, &unverified), "token %q: got %v, want an UnverifiedError", token, err)
				require.NotContains(t, unverified.Reason, testWebhookToken)
			}

			// Without a webhook_token in the config every delivery is accepted.
			cfg := testConfig(e.url + "/chatapi")
			delete(cfg, "webhook_token")
			e.configure(t, cfg)
			events, err := e.webhook(t, body, "")
			require.NoError(t, err)
			require.Len(t, events, 1)
		})
	}
}

func TestMalformedWebhooksArePermanentErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	for name, body := range map[string]string{
		"empty":               "",
		"not JSON":            "messages=1",
		"an array":            `[{"id": "x"}]`,
		"element not object":  `{"messages": ["hello"]}`,
		"array not an array":  `{"ack": {"id": "x"}}`,
		"element null object": `{"chatUpdate": [null]}`,
	} {
		_, err := e.webhook(t, []byte(body), testWebhookToken)
		got := errorClass(t, err)
		require.Equal(t, sdk.ClassPermanent, got.Class, "%s: %v", name, got)
	}
	events, err := e.webhook(t, []byte(`{"instanceId": "229607", "status": "authenticated"}`), testWebhookToken)
	require.NoError(t, err, "an envelope without arrays is a delivery with nothing to emit")
	require.Empty(t, events)
}

func FuzzWebhook(f *testing.F) {
	const token = "fuzz-token"
	for _, name := range []string{"webhook_messages.json", "webhook_ack.json", "webhook_chatUpdate.json"} {
		f.Add(fixture(f, name), token)
	}
	f.Add([]byte(`{"messages": [{"id": 1}], "ack": [{"id": "a", "status": 2}], "chatUpdate": [{}]}`), token)
	f.Add([]byte(`{"messages": [[]]}`), "wrong")

	p := newProvider(sdk.NewHTTP(time.Second))
	declared := map[string]bool{}
	for _, ev := range p.Spec().Events {
		declared[ev.Name] = true
	}
	f.Fuzz(func(t *testing.T, body []byte, presented string) {
		events, err := p.HandleWebhook(context.Background(), &sdk.WebhookRequest{
			Config: sdk.Config{"webhook_token": token},
			Query:  url.Values{"token": {presented}},
			Body:   body,
		})
		if presented != token {
			var unverified *sdk.UnverifiedError
			require.True(t, errors.As(err, &unverified), "token %q accepted", presented)
			return
		}
		if err != nil {
			var classified *sdk.Error
			require.True(t, errors.As(err, &classified), "unclassified error %v", err)
			require.Equal(t, sdk.ClassPermanent, classified.Class)
			return
		}
		var env envelope
		require.NoError(t, json.Unmarshal(body, &env), "accepted a body that is not an envelope")
		require.Len(t, events, len(env.Messages)+len(env.Ack)+len(env.ChatUpdate))
		for _, ev := range events {
			require.True(t, declared[ev.Type], "undeclared event type %q", ev.Type)
			var data map[string]any
			require.NoError(t, json.Unmarshal(ev.Data, &data), "event data is not a JSON object: %s", ev.Data)
			require.NotNil(t, data)
			if ev.Type == EventChatUpdate {
				require.Empty(t, ev.ID)
			}
		}
	})
}
