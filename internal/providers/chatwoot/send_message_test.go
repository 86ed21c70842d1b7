package chatwoot_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/sdk"
)

func num(n int64) json.Number { return json.Number(fmt.Sprint(n)) }

func TestSendMessageReusesContactAndConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := map[string]any{"contact": map[string]any{"email": "sam@example.com", "name": "Sam"}, "content": "one"}
	first, err := b.invoke(t, "send_message", in)
	require.NoError(t, err)
	in["content"] = "two"
	second, err := b.invoke(t, "send_message", in)
	require.NoError(t, err)

	require.Equal(t, first["contact_id"], second["contact_id"])
	require.Equal(t, first["source_id"], second["source_id"])
	require.Equal(t, first["conversation_id"], second["conversation_id"])
	require.NotEqual(t, first["message_id"], second["message_id"])
	require.Len(t, b.fake.Contacts(), 1)
	require.Len(t, b.fake.Conversations(), 1)
	msgs := b.fake.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, "one", msgs[0].Content)
	require.Equal(t, "two", msgs[1].Content)
}

func TestSendMessageOpensNewConversationWhenResolved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := map[string]any{"contact": map[string]any{"identifier": "crm-5"}, "content": "one"}
	first, err := b.invoke(t, "send_message", in)
	require.NoError(t, err)
	resp := fakeRequest(t, b, "POST", fmt.Sprintf("/api/v1/accounts/1/conversations/%s/toggle_status", first["conversation_id"]), `{"status":"resolved"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	second, err := b.invoke(t, "send_message", in)
	require.NoError(t, err)
	require.Equal(t, first["contact_id"], second["contact_id"])
	require.NotEqual(t, first["conversation_id"], second["conversation_id"], "a resolved conversation is not reused")

	third, err := b.invoke(t, "send_message", in)
	require.NoError(t, err)
	require.Equal(t, second["conversation_id"], third["conversation_id"], "the new open conversation is reused")
}

func TestSendMessageMatchesExactlyDespiteSubstringSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Chatwoot's search matches substrings: "crm-1" finds all of these.
	for i := range 20 {
		b.fake.AddContact(fake.Contact{Identifier: fmt.Sprintf("crm-1%02d", i)})
	}
	target, _ := b.fake.AddContact(fake.Contact{Identifier: "crm-1", Name: "Target"})
	b.exchanges.take()

	out, err := b.invoke(t, "send_message", map[string]any{"contact": map[string]any{"identifier": "crm-1"}, "content": "hi"})
	require.NoError(t, err)
	require.Equal(t, num(target.ID), out["contact_id"])
	var queries []string
	for _, ex := range b.exchanges.take() {
		if strings.HasSuffix(ex.Path, "/contacts/search") {
			queries = append(queries, ex.Query.Encode())
		}
	}
	require.Equal(t, []string{"q=crm-1", "page=2&q=crm-1"}, queries, "the match is on the second page")
}

func TestSendMessageFallsBackToPhoneThenEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	byEmail, _ := b.fake.AddContact(fake.Contact{Email: "lee@example.com"})
	out, err := b.invoke(t, "send_message", map[string]any{
		"contact": map[string]any{"identifier": "crm-9", "phone_number": "+15550100", "email": "LEE@example.com"},
		"content": "hi",
	})
	require.NoError(t, err)
	require.Equal(t, num(byEmail.ID), out["contact_id"], "emails match case-insensitively")
	require.Len(t, b.fake.Contacts(), 1)
}

// TestSendMessageContactCreatedConcurrently covers a run that loses the race
// to create the contact: Chatwoot answers 422, and the contact the other run
// created is used.
func TestSendMessageContactCreatedConcurrently(t *testing.T) {
	t.Parallel()
	var once sync.Once
	var f *fake.Fake
	b := setup(t, func(next http.Handler) http.Handler {
		f = next.(*fake.Fake)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/contacts") {
				once.Do(func() { f.AddContact(fake.Contact{Identifier: "crm-race"}) })
			}
			next.ServeHTTP(w, r)
		})
	})
	out, err := b.invoke(t, "send_message", map[string]any{"contact": map[string]any{"identifier": "crm-race"}, "content": "hi"})
	require.NoError(t, err)
	contacts := b.fake.Contacts()
	require.Len(t, contacts, 1)
	require.Equal(t, num(contacts[0].ID), out["contact_id"])
	require.Len(t, b.fake.Messages(), 1)
}

func TestSendMessageWithoutIdempotencyKeySendsNoEchoID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.invoke(t, "send_message", map[string]any{"contact": map[string]any{"identifier": "x"}, "content": "hi"},
		func(r *sdk.InvokeRequest) { r.IdempotencyKey = "" })
	require.NoError(t, err)
	msgs := b.fake.Messages()
	require.Len(t, msgs, 1)
	require.Empty(t, msgs[0].EchoID)
}

func TestSendMessageInputValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]struct {
		input map[string]any
		field string
	}{
		"no contact key":         {map[string]any{"contact": map[string]any{"name": "Jane"}, "content": "hi"}, "contact.identifier"},
		"phone not E.164":        {map[string]any{"contact": map[string]any{"phone_number": "14155550123"}, "content": "hi"}, "contact.phone_number"},
		"unknown contact field":  {map[string]any{"contact": map[string]any{"identifier": "x", "mobile": "1"}, "content": "hi"}, "contact.mobile"},
		"bad message_type":       {map[string]any{"contact": map[string]any{"identifier": "x"}, "content": "hi", "message_type": "activity"}, "message_type"},
		"content missing":        {map[string]any{"contact": map[string]any{"identifier": "x"}}, "content"},
		"email without an @":     {map[string]any{"contact": map[string]any{"email": "jane.example.com"}, "content": "hi"}, "contact.email"},
		"content_attributes str": {map[string]any{"contact": map[string]any{"identifier": "x"}, "content": "hi", "content_attributes": "x"}, "content_attributes"},
	}
	for name, tc := range cases {
		_, err := b.invoke(t, "send_message", tc.input)
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassPermanent, e.Class, "%s: %v", name, err)
		require.Equal(t, tc.field, e.Field, "%s: %v", name, err)
	}
	require.Empty(t, b.sandbox.Requests(""), "invalid input sends nothing")
}

// TestPhoneNumberPatternInSchema checks the E.164 rule is part of the
// declared schema, so `herald validate` rejects a malformed number before
// anything runs.
func TestPhoneNumberPatternInSchema(t *testing.T) {
	t.Parallel()
	spec := chatwoot.New().Spec()
	for _, action := range []string{"send_message", "create_contact"} {
		a, ok := spec.Action(action)
		require.True(t, ok)
		in := map[string]any{"phone_number": "+1 415 555 0123"}
		if action == "send_message" {
			in = map[string]any{"contact": map[string]any{"phone_number": "+1 415 555 0123"}, "content": "hi"}
		}
		errs := a.Input.Validate(in, sdk.ValidateOptions{})
		require.Len(t, errs, 1, "%s: %v", action, errs)
		require.Contains(t, errs[0].Path, "phone_number")
		if action == "send_message" {
			in["contact"] = map[string]any{"phone_number": "+14155550123"}
		} else {
			in = map[string]any{"phone_number": "+14155550123"}
		}
		require.Empty(t, a.Input.Validate(in, sdk.ValidateOptions{}), action)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]map[string]any{
		"base_url without scheme":  {"base_url": "chat.example.com"},
		"base_url with a query":    {"base_url": "https://chat.example.com/?x=1"},
		"account_id not a number":  {"account_id": "one"},
		"inbox_id zero":            {"inbox_id": 0},
		"tolerance not a duration": {"webhook_tolerance": "5 minutes"},
		"tolerance negative":       {"webhook_tolerance": "-1m"},
		"token missing":            {"api_access_token": nil},
	}
	for name, change := range cases {
		cfg := fake.ProviderConfig(b.baseURL)
		for k, v := range change {
			if v == nil {
				delete(cfg, k)
			} else {
				cfg[k] = v
			}
		}
		raw, err := json.Marshal(cfg)
		require.NoError(t, err)
		err = b.client.Configure(t.Context(), "bad", raw)
		require.Error(t, err, name)
		require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class, name)
		require.NotContains(t, err.Error(), fake.DefaultToken, name)
	}
}

func TestConfigOverrideSwapsAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.invoke(t, "search_contacts", map[string]any{"q": "x"}, func(r *sdk.InvokeRequest) {
		r.ConfigOverride = json.RawMessage(`{"account_id": 2}`)
	})
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class, "error: %v", err)
	require.Contains(t, e.Message, "You are not authorized to access this account")
	reqs := b.sandbox.Requests("chatwoot")
	require.Len(t, reqs, 1)
	require.Equal(t, "/api/v1/accounts/2/contacts/search", reqs[0].Path)
}
