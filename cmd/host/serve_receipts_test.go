package main

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/sandbox"
)

// showRun reads one run's full view with `herald runs show --output json`.
func (e *serveEnv) showRun(id string) *engine.RunView {
	e.t.Helper()
	out, err := herald(e.bin, os.Environ(), "runs", "show", id, "--dir", e.dir, "--output", "json")
	require.NoError(e.t, err, out)
	var v engine.RunView
	require.NoError(e.t, json.Unmarshal([]byte(out), &v), out)
	return &v
}

// TestServeRecordsDeliveryReceipts sends through Chat API (once, and to a
// for_each list) and Chatwoot while the sandbox posts their receipts back to
// herald serve: each receipt lands on the step or the item that sent its
// message, the best status wins, and the ack events still start the runs of
// an event trigger.
func TestServeRecordsDeliveryReceipts(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "page" {
  step "page" {
    uses = "chatapi.send_message"
    with = { phone = "14155550100", body = "Disk full on db-1" }
  }
  step "team" {
    for_each = "{{ trigger.body.phones }}"
    uses     = "chatapi.send_message"
    with     = { phone = "{{ item }}", body = "FYI: disk full on db-1" }
  }
  step "ticket" {
    uses = "support.send_message"
    with = { contact = { identifier = "oncall-1", name = "On call" }, content = "Disk full on db-1" }
  }
}
workflow "acks" {
  trigger "event" {
    event    = "chatapi.ack"
    provider = "chatapi"
  }
  when = "trigger.event.status == 'viewed'"
  step "log" {
    uses = "whatsapp_cc.send_single"
    with = { to = { mobile = "14155550199" }, fb_template = "read_receipt", language = "en" }
  }
}`)
	e.start()
	require.NoError(t, e.sandbox.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatapi", WebhookURL: e.url + "/providers/chatapi/webhook", DelayMS: 20, Final: "read"}))
	require.NoError(t, e.sandbox.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatwoot", WebhookURL: e.url + "/providers/support/webhook", DelayMS: 20, Final: "delivered"}))

	code, out := e.post("/api/v1/workflows/page/runs", []byte(`{"phones":["14155550101","14155550102"]}`), nil)
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	runID := out["run_id"].(string)
	e.eventually(30*time.Second, "every receipt was recorded", func() bool {
		v := e.showRun(runID)
		if v.Status != "succeeded" || len(v.Steps) != 3 || v.Steps[0].Delivery == nil || v.Steps[2].Delivery == nil {
			return false
		}
		for _, it := range v.Steps[1].Items {
			if it.Delivery == nil || it.Delivery.Status != "read" {
				return false
			}
		}
		return v.Steps[0].Delivery.Status == "read" && v.Steps[2].Delivery.Status == "delivered"
	})
	e.sandbox.WaitReceipts()
	for _, p := range e.sandbox.PostedReceipts() {
		require.Equal(t, http.StatusOK, p.Code, "receipt %+v was accepted (chatwoot's are signed)", p)
	}
	v := e.showRun(runID)
	require.Len(t, v.Steps[1].Items, 2)
	require.Nil(t, v.Steps[1].Delivery, "a for_each step's receipts are on its items")
	var ack map[string]any
	require.NoError(t, json.Unmarshal(v.Steps[0].Delivery.Event, &ack))
	require.Equal(t, "viewed", ack["status"], "the event is the provider's ack as it came")

	text, err := herald(e.bin, os.Environ(), "runs", "show", runID, "--dir", e.dir)
	require.NoError(t, err, text)
	require.Contains(t, text, "item 1 delivery")

	// Every ack (three statuses of three messages) is still an event that
	// starts a run; the three viewed ones pass its when.
	e.eventually(30*time.Second, "the acks started their runs", func() bool {
		runs := e.runs("acks")
		succeeded := 0
		for _, r := range runs {
			if r.Status == "succeeded" {
				succeeded++
			}
		}
		return len(runs) == 9 && succeeded == 3
	})
	require.Equal(t, 0, e.stop())
}
