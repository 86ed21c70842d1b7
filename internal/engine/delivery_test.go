package engine_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// pager is a provider whose send declares delivery receipts reported by
// pager.ack, naming the message by the output's id (msg-<to>).
type pager struct{}

func (pager) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type: "pager", Version: "0.0.1",
		Actions: []sdk.Action{{
			Name:     "send",
			Input:    sdk.Fields(sdk.String("to", "Recipient.").AsRequired(), sdk.String("text", "Text.")),
			Output:   sdk.Fields(sdk.String("id", "Message id.")),
			Delivery: &sdk.DeliverySpec{Event: "pager.ack", OutputField: "id"},
			Run: func(_ context.Context, c *sdk.Call) (any, error) {
				return map[string]any{"id": "msg-" + c.Input["to"].(string)}, nil
			},
		}, {
			Name:   "note",
			Input:  sdk.Fields(sdk.String("text", "Text.")),
			Output: sdk.Schema{AdditionalFields: true},
			Run: func(_ context.Context, c *sdk.Call) (any, error) {
				return map[string]any{"text": c.Input["text"]}, nil
			},
		}},
		Events: []sdk.EventSpec{{Name: "pager.ack"}, {Name: "pager.message"}},
	}
}

type receiptBundle struct {
	engine *engine.Engine
	store  store.Store
	mu     sync.Mutex
	events []engine.Event
	// onStep is called when a step finishes, on the run's goroutine.
	onStep func(stepID string)
}

func setupReceipts(t *testing.T, hcl string) *receiptBundle {
	t.Helper()
	srv := sdk.NewServer(pager{}, nil)
	p, diags := config.LoadSources([]config.Source{{Name: "test.hcl", Data: []byte(`provider "primary" { type = "pager" }` + "\n" + hcl)}}, config.LoadOptions{
		Spec: func(string) (*sdk.Spec, error) { return pager{}.Spec(), nil },
	})
	require.False(t, diags.HasErrors(), "%v", diags)
	require.NoError(t, srv.Configure(context.Background(), "primary", json.RawMessage(`{}`)))
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := &receiptBundle{store: st}
	b.engine, err = engine.New(engine.Options{
		Project: p,
		Store:   st,
		Client:  func(context.Context, string) (sdk.Client, error) { return srv, nil },
		Observer: func(ev engine.Event) {
			b.mu.Lock()
			b.events = append(b.events, ev)
			fn := b.onStep
			b.mu.Unlock()
			if ev.Type == engine.StepFinished && fn != nil {
				fn(ev.StepID)
			}
		},
	})
	require.NoError(t, err)
	return b
}

func ack(id string, status sdk.DeliveryStatus) sdk.Event {
	return sdk.Event{Type: "pager.ack", Data: json.RawMessage(`{"id":"` + id + `","status":"` + string(status) + `"}`),
		Receipt: &sdk.Receipt{MessageID: id, Status: status}}
}

func (b *receiptBundle) view(t *testing.T, id string) *engine.RunView {
	t.Helper()
	v, err := engine.View(context.Background(), b.store, id)
	require.NoError(t, err)
	return v
}

func TestReceiptsLandOnTheStepAndItsItems(t *testing.T) {
	t.Parallel()
	b := setupReceipts(t, `
workflow "w" {
  step "page" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "each" {
    for_each = "{{ ['x', 'y', 'z'] }}"
    uses     = "primary.send"
    with     = { to = "{{ item }}" }
  }
}`)
	run, err := b.engine.Run(context.Background(), "w", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)

	got, err := b.engine.RecordReceipts(context.Background(), "primary", []sdk.Event{
		ack("msg-a", sdk.DeliveryDelivered),
		ack("msg-y", sdk.DeliveryRead),
		ack("msg-unknown", sdk.DeliveryRead),
		{Type: "pager.message", Data: json.RawMessage(`{}`), Receipt: &sdk.Receipt{MessageID: "msg-z", Status: sdk.DeliveryRead}},
		{Type: "pager.ack", Data: json.RawMessage(`{}`)},
	})
	require.NoError(t, err)
	require.Len(t, got, 2, "only the receipts of messages the run sent, reported by the declared event")
	_, err = b.engine.RecordReceipts(context.Background(), "other", []sdk.Event{ack("msg-x", sdk.DeliveryRead)})
	require.NoError(t, err, "another instance's message of the same id is not this run's")

	v := b.view(t, run.ID)
	require.NotNil(t, v.Steps[0].Delivery)
	require.Equal(t, "delivered", v.Steps[0].Delivery.Status)
	require.JSONEq(t, `{"id":"msg-a","status":"delivered"}`, string(v.Steps[0].Delivery.Event))
	require.Nil(t, v.Steps[1].Delivery, "a for_each step's receipts are on its items")
	require.Len(t, v.Steps[1].Items, 3)
	require.Nil(t, v.Steps[1].Items[0].Delivery)
	require.Equal(t, "read", v.Steps[1].Items[1].Delivery.Status)
	require.Nil(t, v.Steps[1].Items[2].Delivery)

	// A late "sent" never lowers "delivered", and is not reported.
	got, err = b.engine.RecordReceipts(context.Background(), "primary", []sdk.Event{ack("msg-a", sdk.DeliverySent)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.False(t, got[0].Changed)
	require.Equal(t, "delivered", b.view(t, run.ID).Steps[0].Delivery.Status)

	recorded := 0
	b.mu.Lock()
	for _, ev := range b.events {
		if ev.Type == engine.DeliveryRecorded {
			recorded++
			require.Equal(t, run.ID, ev.RunID)
		}
	}
	b.mu.Unlock()
	require.Equal(t, 2, recorded)

	out, err := json.Marshal(v)
	require.NoError(t, err)
	require.Contains(t, string(out), `"delivery":{"status":"delivered","at":`)
}

// TestDeliveryIsInScope checks that a receipt recorded after a step sent
// is steps.<id>.delivery for the steps after it, for a step and for the
// items of a for_each step.
func TestDeliveryIsInScope(t *testing.T) {
	t.Parallel()
	b := setupReceipts(t, `
workflow "w" {
  step "page" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "each" {
    for_each = "{{ ['x', 'y'] }}"
    uses     = "primary.send"
    with     = { to = "{{ item }}" }
  }
  step "unread" {
    uses = "primary.note"
    if   = "steps.page.delivery == null || steps.page.delivery.status != 'read'"
    with = { text = "escalate" }
  }
  step "report" {
    uses = "primary.note"
    with = { text = "{{ steps.page.delivery.status }} {{ steps.each.delivery[0] == null }} {{ steps.each.delivery[1].status }} {{ steps.page.delivery.event.id }}" }
  }
}`)
	b.onStep = func(step string) {
		if step != "each" {
			return
		}
		_, err := b.engine.RecordReceipts(context.Background(), "primary", []sdk.Event{ack("msg-a", sdk.DeliveryRead), ack("msg-y", sdk.DeliveryDelivered)})
		require.NoError(t, err)
	}
	run, err := b.engine.Run(context.Background(), "w", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Error)
	v := b.view(t, run.ID)
	require.Equal(t, "skipped", v.Steps[2].Status, "the page was read: no escalation")
	require.JSONEq(t, `{"text":"read true delivered msg-a"}`, string(v.Steps[3].Output))
}
