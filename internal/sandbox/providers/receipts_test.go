package providers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatapi"
	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// receiver stands in for Herald's provider webhook endpoint: it hands each
// webhook to the real provider (verifying it as Herald would) and keeps the
// receipts of the events it yields.
type receiver struct {
	mu       sync.Mutex
	receipts []sdk.Receipt
	failures []string
}

func (rc *receiver) handler(t *testing.T, client sdk.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		events, err := client.HandleWebhook(context.Background(), &sdk.WebhookRequest{
			Instance: "x", Method: r.Method, Path: r.URL.Path, Header: r.Header, Query: r.URL.Query(), Body: body,
		})
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.failures = append(rc.failures, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		for _, ev := range events {
			if ev.Receipt != nil {
				rc.receipts = append(rc.receipts, *ev.Receipt)
			}
		}
	})
}

func configured(t *testing.T, p sdk.Provider, cfg map[string]any) sdk.Client {
	t.Helper()
	c := sdktest.Serve(t, p)
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Configure(context.Background(), "x", raw))
	return c
}

func post(t *testing.T, url, body string, header map[string]string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Less(t, resp.StatusCode, 300, "%v", out)
	return out
}

func TestSandboxPostsChatAPIAcks(t *testing.T) {
	t.Parallel()
	sb := providers.New()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	rc := &receiver{}
	hook := httptest.NewServer(rc.handler(t, configured(t, chatapi.New(), providers.ProviderConfigs(srv.URL)["chatapi"])))
	t.Cleanup(hook.Close)
	require.NoError(t, sb.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatapi", WebhookURL: hook.URL, DelayMS: 5}))

	out := post(t, srv.URL+"/chatapi/instance229607/sendMessage?token=sandbox-token", `{"phone":"14155550123","body":"page"}`, nil)
	sb.WaitReceipts()
	id := out["id"].(string)
	require.Equal(t, []sdk.Receipt{
		{MessageID: id, Status: sdk.DeliverySent},
		{MessageID: id, Status: sdk.DeliveryDelivered},
		{MessageID: id, Status: sdk.DeliveryRead},
	}, rc.receipts, "sent, delivered, then viewed (read)")
	posted := sb.PostedReceipts()
	require.Len(t, posted, 3)
	require.Equal(t, http.StatusOK, posted[2].Code)
}

func TestSandboxPostsSignedChatwootReceiptsUpToFinal(t *testing.T) {
	t.Parallel()
	sb := providers.New()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	rc := &receiver{}
	cfg := providers.ProviderConfigs(srv.URL)["chatwoot"]
	require.NotEmpty(t, cfg["webhook_secret"], "the receiver verifies signatures")
	hook := httptest.NewServer(rc.handler(t, configured(t, chatwoot.New(), cfg)))
	t.Cleanup(hook.Close)
	require.NoError(t, sb.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatwoot", WebhookURL: hook.URL, DelayMS: 5, Final: "delivered"}))

	auth := map[string]string{"api_access_token": cfg["api_access_token"].(string)}
	contact := post(t, srv.URL+"/chatwoot/api/v1/accounts/1/contacts", `{"inbox_id":1,"name":"Jane","identifier":"crm-1"}`, auth)
	sourceID := contact["payload"].(map[string]any)["contact_inbox"].(map[string]any)["source_id"].(string)
	conv := post(t, srv.URL+"/chatwoot/api/v1/accounts/1/conversations", `{"source_id":"`+sourceID+`","inbox_id":1}`, auth)
	convID := int64(conv["id"].(float64))
	msg := post(t, srv.URL+"/chatwoot/api/v1/accounts/1/conversations/"+jsonInt(convID)+"/messages", `{"content":"page"}`, auth)
	sb.WaitReceipts()
	id := jsonInt(int64(msg["id"].(float64)))
	require.Empty(t, rc.failures, "every receipt passes the provider's signature check")
	require.Equal(t, []sdk.Receipt{{MessageID: id, Status: sdk.DeliverySent}, {MessageID: id, Status: sdk.DeliveryDelivered}}, rc.receipts)

	// No plan, no receipts.
	require.NoError(t, sb.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatwoot"}))
	post(t, srv.URL+"/chatwoot/api/v1/accounts/1/conversations/"+jsonInt(convID)+"/messages", `{"content":"again"}`, auth)
	sb.WaitReceipts()
	time.Sleep(20 * time.Millisecond)
	require.Len(t, rc.receipts, 2)
}

func jsonInt(i int64) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestReceiptPlanEndpoint(t *testing.T) {
	t.Parallel()
	sb := providers.New()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/_sandbox/receipts", "application/json", strings.NewReader(`{"provider":"chatapi","webhook_url":"http://127.0.0.1:1/x","final":"viewed"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "final is in Herald's words")
	resp, err = http.Post(srv.URL+"/_sandbox/receipts", "application/json", strings.NewReader(`{"provider":"chatapi","webhook_url":"http://127.0.0.1:1/x","final":"delivered","delay_ms":10}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, err = http.Get(srv.URL + "/_sandbox/receipts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var got struct {
		Plans []sandbox.ReceiptPlan `json:"plans"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, []sandbox.ReceiptPlan{{Provider: "chatapi", WebhookURL: "http://127.0.0.1:1/x", DelayMS: 10, Final: "delivered"}}, got.Plans)
}
