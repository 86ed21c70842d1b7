package herald_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// chat is an in-process provider that posts to a chat channel.
type chat struct{}

func (chat) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "chat",
		Version: "1.0.0",
		Actions: []sdk.Action{{
			Name: "post",
			Input: sdk.Fields(
				sdk.String("channel", "Channel to post to.").AsRequired(),
				sdk.String("text", "Message text.").AsRequired(),
			),
			Run: func(_ context.Context, call *sdk.Call) (any, error) {
				return map[string]any{"posted": call.Input["channel"].(string) + ": " + call.Input["text"].(string)}, nil
			},
		}},
	}
}

// Handler is Herald's HTTP API, to mount on the application's own server
// while Serve runs the host: here a deploy webhook, signed with the
// trigger's secret, starts a run.
func ExampleHerald_Handler() {
	ctx := context.Background()
	h, err := herald.New(ctx, herald.Options{
		Files: map[string][]byte{"deploys.hcl": []byte(`
provider "chat" {}

workflow "announce" {
  trigger "webhook" {
    path   = "deploys"
    secret = "{{ secrets.DEPLOY_HOOK }}"
  }
  when = "trigger.body.env == 'production'"
  step "post" {
    uses = "chat.post"
    with = { channel = "#releases", text = "{{ trigger.body.service }} {{ trigger.body.version }} is live" }
  }
}
`)},
		Providers: []sdk.Provider{chat{}},
		Secrets:   map[string]string{"DEPLOY_HOOK": "hook-secret-7f3a"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close() // stops Serve too
	go func() {
		if err := h.Serve(ctx); err != nil {
			log.Print(err)
		}
	}()

	mux := http.NewServeMux()
	mux.Handle("/herald/", http.StripPrefix("/herald", h.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `{"service": "billing", "version": "2.4.1", "env": "production"}`
	mac := hmac.New(sha256.New, []byte("hook-secret-7f3a"))
	mac.Write([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/herald/hooks/deploys", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Herald-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var accepted struct {
		RunIDs []string `json:"run_ids"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&accepted); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, len(accepted.RunIDs), "run")

	run, err := h.Wait(ctx, accepted.RunIDs[0])
	if err != nil {
		log.Fatal(err)
	}
	step, _ := run.Step("post")
	fmt.Println(run.Status, string(step.Output))
	// Output:
	// 202 Accepted 1 run
	// succeeded {"posted":"#releases: billing 2.4.1 is live"}
}
