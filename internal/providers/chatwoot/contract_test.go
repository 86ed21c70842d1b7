package chatwoot_test

// The contract tests check every request the provider sends, and every
// response it relies on from the fake, against Chatwoot's OpenAPI 3.1 spec
// (testdata/swagger.json, Chatwoot v4.14.2) with kin-openapi. Where the spec
// is wrong about what Chatwoot really accepts or returns (SOURCE.json lists
// the known cases), the exception is spelled out below, checked against the
// real shape instead, and the test fails if the spec ever stops being wrong,
// so a stale exception cannot hide a change.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/sdk"
)

// specServer is the server URL the spec declares; recorded requests are
// re-addressed to it for routing.
const specServer = "https://app.chatwoot.com"

// undocumentedRequestFields are request body fields Chatwoot accepts that
// its spec does not declare, by operation. The contract test rejects any
// other undeclared field.
var undocumentedRequestFields = map[string]map[string]string{
	"POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages": {
		"echo_id": "SOURCE.json known_spec_vs_code_mismatches[2]: message create also accepts echo_id (app/builders/messages/message_builder.rb); " +
			"the provider sends the call's idempotency key in it",
	},
}

// responseExceptions are the successful responses whose spec schema is wrong
// about what Chatwoot returns, by operation and status, with the schema in
// testdata/real_shapes.json that describes the real response.
var responseExceptions = map[string]string{
	// SOURCE.json known_spec_vs_code_mismatches[0]: the spec says
	// extended_contact; Chatwoot renders {payload: {contact, contact_inbox}}.
	"POST /api/v1/accounts/{account_id}/contacts 200": "real_contact_create_response",
	// The spec's contact_inboxes schema types inbox.provider as a string;
	// Channel::Api inboxes render null (the inbox partial's
	// `json.provider resource.channel.try(:provider)`), as the spec's own
	// contact_inbox schema allows.
	"POST /api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes 200": "real_contact_inbox",
}

// errorShape is the schema, in testdata/real_shapes.json, every error body
// is checked against instead of the spec's bad_request_error
// (SOURCE.json known_spec_vs_code_mismatches[1]).
const errorShape = "real_error"

type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	contractOnce sync.Once
	contractDoc  *contract
	contractErr  error
)

// loadContract loads swagger.json with the real shapes of
// testdata/real_shapes.json added as components, so they can refer to the
// spec's own schemas.
func loadContract(t *testing.T) *contract {
	t.Helper()
	spec := specFile(t, "swagger.json")
	contractOnce.Do(func() {
		contractDoc, contractErr = buildContract(spec)
	})
	require.NoError(t, contractErr)
	return contractDoc
}

func buildContract(spec []byte) (*contract, error) {
	var raw map[string]any
	if err := json.Unmarshal(spec, &raw); err != nil {
		return nil, err
	}
	shapes, err := os.ReadFile(filepath.Join("testdata", "real_shapes.json"))
	if err != nil {
		return nil, err
	}
	var real map[string]any
	if err := json.Unmarshal(shapes, &real); err != nil {
		return nil, fmt.Errorf("real_shapes.json: %w", err)
	}
	schemas := raw["components"].(map[string]any)["schemas"].(map[string]any)
	for name, s := range real {
		if _, clash := schemas[name]; clash {
			return nil, fmt.Errorf("real shape %s clashes with a spec schema", name)
		}
		schemas[name] = s
	}
	merged, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(merged)
	if err != nil {
		return nil, fmt.Errorf("load swagger.json: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, errors.New("swagger.json is no longer OpenAPI 3.1: check the validator options")
	}
	// The spec's examples are not part of the contract (one of them, under
	// POST /contacts/filter, does not match its own schema); everything else
	// of the document must be valid.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("swagger.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
}

// check validates one exchange: the request against its operation
// (parameters, security, content type, body, and no undeclared body
// fields), and the response against the operation's response for its
// status, or against the real shape where the spec is wrong.
func (c *contract) check(t *testing.T, ex exchange) {
	t.Helper()
	req, err := http.NewRequest(ex.Method, specServer+ex.Path, bytes.NewReader(ex.Body))
	require.NoError(t, err)
	req.URL.RawQuery = ex.Query.Encode()
	req.Header = ex.Header.Clone()
	route, pathParams, err := c.router.FindRoute(req)
	require.NoError(t, err, "%s %s is not an operation of the spec", ex.Method, ex.Path)
	op := ex.Method + " " + route.Path

	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: pathParams,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:                        true,
			RejectWhenRequestBodyNotSpecified: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				s := ai.SecurityScheme
				if s.Type != "apiKey" || s.In != "header" {
					return fmt.Errorf("unexpected security scheme %s", ai.SecuritySchemeName)
				}
				if ai.RequestValidationInput.Request.Header.Get(s.Name) != fake.DefaultToken {
					return fmt.Errorf("header %s does not carry the access token", s.Name)
				}
				return nil
			},
		},
	}
	require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "request %s does not match the spec", op)
	if len(ex.Body) > 0 {
		c.checkDeclaredFields(t, op, route, ex.jsonBody(t))
	}

	var body any
	require.NoError(t, json.Unmarshal(ex.RespBody, &body), "response to %s is not JSON: %s", op, ex.RespBody)
	if ex.Status >= 400 {
		c.checkShape(t, errorShape, body, "error response %d to %s", ex.Status, op)
		return
	}
	specErr := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Status,
		Header:                 ex.RespHeader,
		Body:                   io.NopCloser(bytes.NewReader(ex.RespBody)),
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	})
	if shape, ok := responseExceptions[fmt.Sprintf("%s %d", op, ex.Status)]; ok {
		require.Error(t, specErr, "the spec now describes the real response to %s %d: drop its entry from responseExceptions", op, ex.Status)
		c.checkShape(t, shape, body, "response %d to %s", ex.Status, op)
		return
	}
	require.NoError(t, specErr, "response %d to %s does not match the spec: %s", ex.Status, op, ex.RespBody)
}

// checkShape validates v against one of the real shapes.
func (c *contract) checkShape(t *testing.T, name string, v any, format string, args ...any) {
	t.Helper()
	ref, ok := c.doc.Components.Schemas[name]
	require.True(t, ok, "no real shape %s", name)
	err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors())
	require.NoError(t, err, fmt.Sprintf(format, args...)+" does not match the real shape "+name)
}

// checkDeclaredFields fails on body fields the operation's schema does not
// declare (the spec allows additional properties, so kin-openapi would let
// a misspelt field through), except the documented undocumentedRequestFields.
func (c *contract) checkDeclaredFields(t *testing.T, op string, route *routers.Route, body map[string]any) {
	t.Helper()
	rb := route.Operation.RequestBody
	require.NotNil(t, rb, "%s has no request body in the spec", op)
	media := rb.Value.Content.Get("application/json")
	require.NotNil(t, media, "%s takes no application/json body in the spec", op)
	var walk func(path string, s *openapi3.Schema, v map[string]any)
	walk = func(path string, s *openapi3.Schema, v map[string]any) {
		props := properties(s)
		if len(props) == 0 {
			return // a free-form object, such as custom_attributes
		}
		for k, val := range v {
			name := strings.TrimPrefix(path+"."+k, ".")
			p, declared := props[k]
			if !declared {
				_, excepted := undocumentedRequestFields[op][name]
				require.True(t, excepted, "%s sends %q, which the spec does not declare; add it to undocumentedRequestFields with its source if Chatwoot accepts it", op, name)
				continue
			}
			if obj, ok := val.(map[string]any); ok && p.Value != nil {
				walk(name, p.Value, obj)
			}
		}
	}
	walk("", media.Schema.Value, body)
}

// properties returns the properties a schema declares, through allOf.
func properties(s *openapi3.Schema) openapi3.Schemas {
	out := openapi3.Schemas{}
	for k, v := range s.Properties {
		out[k] = v
	}
	for _, sub := range s.AllOf {
		for k, v := range properties(sub.Value) {
			out[k] = v
		}
	}
	return out
}

// wantRequest is one request a test expects the provider to send.
type wantRequest struct {
	Method string
	Path   string
	Query  string
	// Body is compared as JSON; nil expects no body.
	Body map[string]any
}

// checkExchanges compares what the provider sent with want, request by
// request (method, path, query, headers, JSON body), and validates every
// exchange against the spec.
func checkExchanges(t *testing.T, got []exchange, want []wantRequest) {
	t.Helper()
	c := loadContract(t)
	var gotLines, wantLines []string
	for _, ex := range got {
		gotLines = append(gotLines, ex.Method+" "+ex.Path+"?"+ex.Query.Encode())
	}
	for _, w := range want {
		wantLines = append(wantLines, w.Method+" "+w.Path+"?"+w.Query)
	}
	require.Equal(t, wantLines, gotLines, "requests sent")
	for i, w := range want {
		ex := got[i]
		require.Equal(t, fake.DefaultToken, ex.Header.Get("api_access_token"), "request %d: api_access_token header", i)
		require.Equal(t, "application/json", ex.Header.Get("Accept"), "request %d: Accept header", i)
		require.True(t, strings.HasPrefix(ex.Header.Get("User-Agent"), "herald-provider-chatwoot/"), "request %d: User-Agent %q", i, ex.Header.Get("User-Agent"))
		if w.Body == nil {
			require.Empty(t, ex.Body, "request %d: %s %s has a body", i, ex.Method, ex.Path)
			require.Empty(t, ex.Header.Get("Content-Type"), "request %d: Content-Type without a body", i)
		} else {
			require.Equal(t, "application/json", ex.Header.Get("Content-Type"), "request %d: Content-Type", i)
			wantBody, err := json.Marshal(w.Body)
			require.NoError(t, err)
			require.JSONEq(t, string(wantBody), string(ex.Body), "request %d: %s %s body", i, ex.Method, ex.Path)
		}
		c.check(t, ex)
	}
}

func TestContractSendMessageNewContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.invoke(t, "send_message", map[string]any{
		"contact": map[string]any{"identifier": "crm-0042", "phone_number": "+14155550123", "email": "Jane@Example.com", "name": "Jane Doe"},
		"content": "Your order #1042 has shipped.",
	})
	require.NoError(t, err)

	contacts := b.fake.Contacts()
	require.Len(t, contacts, 1)
	cis := b.fake.ContactInboxes()
	require.Len(t, cis, 1)
	convs := b.fake.Conversations()
	require.Len(t, convs, 1)
	msgs := b.fake.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, map[string]any{
		"contact_id":      json.Number(fmt.Sprint(contacts[0].ID)),
		"source_id":       cis[0].SourceID,
		"conversation_id": json.Number(fmt.Sprint(convs[0].ID)),
		"message_id":      json.Number(fmt.Sprint(msgs[0].ID)),
	}, out)

	const base = "/api/v1/accounts/1"
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "GET", Path: base + "/contacts/search", Query: "q=crm-0042"},
		{Method: "GET", Path: base + "/contacts/search", Query: "q=%2B14155550123"},
		{Method: "GET", Path: base + "/contacts/search", Query: "q=Jane%40Example.com"},
		{Method: "POST", Path: base + "/contacts", Body: map[string]any{
			"inbox_id": 1, "identifier": "crm-0042", "phone_number": "+14155550123", "email": "Jane@Example.com", "name": "Jane Doe",
		}},
		{Method: "POST", Path: base + "/conversations", Body: map[string]any{
			"source_id": cis[0].SourceID, "inbox_id": 1, "contact_id": contacts[0].ID,
		}},
		{Method: "POST", Path: fmt.Sprintf("%s/conversations/%d/messages", base, convs[0].ID), Body: map[string]any{
			"content": "Your order #1042 has shipped.", "message_type": "outgoing", "echo_id": "run-1/step-1/0",
		}},
	})
}

func TestContractSendMessageExistingContactOpenConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ct, sourceID := b.fake.AddContact(fake.Contact{Name: "Jane Doe", Identifier: "crm-0042", PhoneNumber: "+14155550123"})
	conv, err := b.fake.AddConversation(sourceID)
	require.NoError(t, err)

	out, err := b.invoke(t, "send_message", map[string]any{
		"contact":            map[string]any{"identifier": "crm-0042", "phone_number": "+14155550123"},
		"content":            "Did you get it?",
		"message_type":       "incoming",
		"private":            true,
		"content_attributes": map[string]any{"in_reply_to": 7},
	})
	require.NoError(t, err)
	msgs := b.fake.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, map[string]any{
		"contact_id":      json.Number(fmt.Sprint(ct.ID)),
		"source_id":       sourceID,
		"conversation_id": json.Number(fmt.Sprint(conv.ID)),
		"message_id":      json.Number(fmt.Sprint(msgs[0].ID)),
	}, out)
	require.Len(t, b.fake.Contacts(), 1, "no contact created")
	require.Len(t, b.fake.Conversations(), 1, "no conversation created")

	const base = "/api/v1/accounts/1"
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "GET", Path: base + "/contacts/search", Query: "q=crm-0042"},
		{Method: "GET", Path: fmt.Sprintf("%s/contacts/%d/conversations", base, ct.ID)},
		{Method: "POST", Path: fmt.Sprintf("%s/conversations/%d/messages", base, conv.ID), Body: map[string]any{
			"content": "Did you get it?", "message_type": "incoming", "private": true,
			"content_attributes": map[string]any{"in_reply_to": 7}, "echo_id": "run-1/step-1/0",
		}},
	})
}

func TestContractSendMessageExistingContactWithoutSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A contact created without inbox_id has no session in any inbox.
	resp := fakeRequest(t, b, "POST", "/api/v1/accounts/1/contacts", `{"name":"Sam","phone_number":"+4930123456"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b.exchanges.take()
	contacts := b.fake.Contacts()
	require.Len(t, contacts, 1)

	out, err := b.invoke(t, "send_message", map[string]any{
		"contact": map[string]any{"phone_number": "+4930123456"},
		"content": "Hello Sam",
	})
	require.NoError(t, err)
	cis := b.fake.ContactInboxes()
	require.Len(t, cis, 1)
	convs := b.fake.Conversations()
	require.Len(t, convs, 1)
	require.Equal(t, cis[0].SourceID, out["source_id"])
	require.Equal(t, json.Number(fmt.Sprint(contacts[0].ID)), out["contact_id"])

	const base = "/api/v1/accounts/1"
	contactPath := fmt.Sprintf("%s/contacts/%d", base, contacts[0].ID)
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "GET", Path: base + "/contacts/search", Query: "q=%2B4930123456"},
		{Method: "POST", Path: contactPath + "/contact_inboxes", Body: map[string]any{"inbox_id": 1}},
		{Method: "GET", Path: contactPath + "/conversations"},
		{Method: "POST", Path: base + "/conversations", Body: map[string]any{
			"source_id": cis[0].SourceID, "inbox_id": 1, "contact_id": contacts[0].ID,
		}},
		{Method: "POST", Path: fmt.Sprintf("%s/conversations/%d/messages", base, convs[0].ID), Body: map[string]any{
			"content": "Hello Sam", "message_type": "outgoing", "echo_id": "run-1/step-1/0",
		}},
	})
}

func TestContractSingleActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const base = "/api/v1/accounts/1"

	out, err := b.invoke(t, "create_contact", map[string]any{
		"name": "Ada", "email": "ada@example.com", "phone_number": "+442071838750", "identifier": "crm-7",
		"custom_attributes": map[string]any{"tier": "gold"},
	})
	require.NoError(t, err)
	cis := b.fake.ContactInboxes()
	require.Len(t, cis, 1)
	contactID := cis[0].ContactID
	require.Equal(t, map[string]any{"contact_id": json.Number(fmt.Sprint(contactID)), "source_id": cis[0].SourceID}, out)
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "POST", Path: base + "/contacts", Body: map[string]any{
			"inbox_id": 1, "name": "Ada", "email": "ada@example.com", "phone_number": "+442071838750", "identifier": "crm-7",
			"custom_attributes": map[string]any{"tier": "gold"},
		}},
	})

	out, err = b.invoke(t, "create_conversation", map[string]any{
		"source_id": cis[0].SourceID, "contact_id": contactID, "status": "pending", "assignee_id": 3, "team_id": 2,
		"custom_attributes": map[string]any{"order": 1042}, "message": map[string]any{"content": "Welcome"},
	})
	require.NoError(t, err)
	convs := b.fake.Conversations()
	require.Len(t, convs, 1)
	require.Equal(t, "pending", convs[0].Status)
	require.Equal(t, map[string]any{"conversation_id": json.Number(fmt.Sprint(convs[0].ID))}, out)
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "POST", Path: base + "/conversations", Body: map[string]any{
			"source_id": cis[0].SourceID, "inbox_id": 1, "contact_id": contactID, "status": "pending", "assignee_id": 3, "team_id": 2,
			"custom_attributes": map[string]any{"order": 1042}, "message": map[string]any{"content": "Welcome"},
		}},
	})

	out, err = b.invoke(t, "create_message", map[string]any{"conversation_id": convs[0].ID, "content": "Note to self", "private": true})
	require.NoError(t, err)
	msgs := b.fake.Messages()
	require.Len(t, msgs, 2, "the conversation's first message and this one")
	require.Equal(t, map[string]any{"message_id": json.Number(fmt.Sprint(msgs[1].ID))}, out)
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "POST", Path: fmt.Sprintf("%s/conversations/%d/messages", base, convs[0].ID), Body: map[string]any{
			"content": "Note to self", "message_type": "outgoing", "private": true, "echo_id": "run-1/step-1/0",
		}},
	})

	out, err = b.invoke(t, "search_contacts", map[string]any{"q": "ada"})
	require.NoError(t, err)
	require.Equal(t, false, out["has_more"])
	found := out["contacts"].([]any)
	require.Len(t, found, 1)
	require.Equal(t, "crm-7", found[0].(map[string]any)["identifier"])
	checkExchanges(t, b.exchanges.take(), []wantRequest{
		{Method: "GET", Path: base + "/contacts/search", Query: "q=ada"},
	})
}

// TestContractErrorShapes checks the error bodies the provider parses against
// what Chatwoot really renders, and that the spec's error schema does not
// describe them (SOURCE.json known_spec_vs_code_mismatches[1]).
func TestContractErrorShapes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := loadContract(t)
	_, err := b.invoke(t, "create_contact", map[string]any{"phone_number": "+15550001", "identifier": "dup"})
	require.NoError(t, err)
	_, err = b.invoke(t, "create_contact", map[string]any{"phone_number": "+15550001", "identifier": "dup"})
	require.Error(t, err)
	_, err = b.invoke(t, "create_message", map[string]any{"conversation_id": 999, "content": "x"})
	require.Error(t, err)
	cfg := fake.ProviderConfig(b.baseURL)
	cfg["api_access_token"] = ""
	b.configure(t, "no-token", cfg)
	_, err = b.invoke(t, "search_contacts", map[string]any{"q": "x"}, func(r *sdk.InvokeRequest) { r.Instance = "no-token" })
	require.Error(t, err)

	var statuses []int
	for _, ex := range b.exchanges.take() {
		if ex.Status < 400 {
			continue
		}
		statuses = append(statuses, ex.Status)
		var body any
		require.NoError(t, json.Unmarshal(ex.RespBody, &body))
		c.checkShape(t, errorShape, body, "error %d", ex.Status)
		spec := c.doc.Components.Schemas["bad_request_error"].Value
		if obj := body.(map[string]any); obj["errors"] != nil {
			require.Error(t, spec.VisitJSON(body, openapi3.EnableJSONSchema2020()),
				"the spec's bad_request_error now describes Devise's error body: revisit real_error")
		}
	}
	slices.Sort(statuses)
	require.Equal(t, []int{401, 404, 422}, statuses)
}

// fakeRequest sends a request straight to the fake, authenticated.
func fakeRequest(t *testing.T, b *bundle, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.baseURL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("api_access_token", fake.DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}
