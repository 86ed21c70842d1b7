package chatapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/providers/chatapi"
	"github.com/heraldhq/herald/internal/providers/chatapi/fake"
	"github.com/heraldhq/herald/sdk"
)

// BenchmarkSendMessage is the provider's side of a send_message call in
// process, against the fake on loopback HTTP: the SDK's validation and JSON,
// the request, the masked response and the recorded exchange, without the
// plugin protocol. Its allocations are the provider path's; its time also
// holds the fake's. internal/pluginhost's BenchmarkInvokeChatAPISend runs
// the same call through the plugin binary and reports the plugin's CPU.
func BenchmarkSendMessage(b *testing.B) {
	api := httptest.NewServer(fake.New())
	b.Cleanup(api.Close)
	ctx := context.Background()
	srv := sdk.NewServer(chatapi.New(), nil)
	config, err := json.Marshal(fake.ProviderConfig(api.URL))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Configure(ctx, "main", config); err != nil {
		b.Fatal(err)
	}
	req := &sdk.InvokeRequest{Instance: "main", Action: "send_message", Attempt: 1,
		Input: json.RawMessage(`{"phone":"14155550123","body":"Good morning ops, you are on call today. Reply ACK to confirm."}`)}
	b.ReportAllocs()
	for b.Loop() {
		ex := &sdk.Exchange{}
		callCtx, cancel := context.WithTimeout(sdk.WithExchange(ctx, ex), 30*time.Second)
		out, err := srv.Invoke(callCtx, req)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(out, []byte(`"sent":true`)) || len(ex.Response()) == 0 {
			b.Fatal(fmt.Errorf("unexpected output %s, exchange %s", out, ex.Response()))
		}
	}
}
