package herald_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// flakyMailer is an in-process provider whose first call fails with a
// retryable error, as a provider answering HTTP 503 would.
type flakyMailer struct{ calls atomic.Int32 }

func (m *flakyMailer) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "mailer",
		Version: "1.0.0",
		Actions: []sdk.Action{{
			Name:   "send",
			Input:  sdk.Fields(sdk.String("to", "Recipient.").AsRequired()),
			Output: sdk.Fields(sdk.String("id", "Message id.")),
			Run: func(_ context.Context, call *sdk.Call) (any, error) {
				if m.calls.Add(1) == 1 {
					return nil, sdk.Retryable(errors.New("mail server is busy"))
				}
				return map[string]any{"id": "msg-1"}, nil
			},
		}},
	}
}

// Subscribe reports every transition of the runs this Herald executes, in
// order, as they happen: to feed a UI, a log or metrics of the embedding
// application.
func ExampleHerald_Subscribe() {
	ctx := context.Background()
	h, err := herald.New(ctx, herald.Options{
		Files: map[string][]byte{"welcome.hcl": []byte(`
provider "mailer" {}

workflow "welcome" {
  step "mail" {
    uses = "mailer.send"
    with = { to = "{{ trigger.body.email }}" }
    retry {
      max_attempts     = 3
      initial_interval = "10ms"
    }
  }
}
`)},
		Providers: []sdk.Provider{&flakyMailer{}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	unsubscribe := h.Subscribe(func(ev herald.Event) {
		switch ev.Type {
		case herald.RunStarted:
			fmt.Println(ev.Type, ev.Workflow)
		case herald.StepStarted:
			fmt.Println(ev.Type, ev.StepID, ev.Provider+"."+ev.Action)
		case herald.AttemptFailed:
			fmt.Println(ev.Type, ev.StepID, "attempt", ev.Attempt, ev.ErrorClass+":", ev.Error)
		case herald.StepFinished:
			fmt.Println(ev.Type, ev.StepID, ev.Status, "after", ev.Attempts, "attempts")
		case herald.RunFinished:
			fmt.Println(ev.Type, ev.Status)
		}
	})
	defer unsubscribe()

	// Run returns once every event of the run has been delivered.
	if _, err := h.Run(ctx, "welcome", map[string]any{"email": "ada@example.com"}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// run_started welcome
	// step_started mail mailer.send
	// attempt_failed mail attempt 1 retryable: mail server is busy
	// step_finished mail succeeded after 2 attempts
	// run_finished succeeded
}
