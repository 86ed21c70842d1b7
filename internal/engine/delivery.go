package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/jsondec"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// DeliveryRecorded reports a delivery receipt that raised the status of a
// step's (or a for_each item's) message (SPEC §10).
const DeliveryRecorded EventType = "delivery_recorded"

// indexDelivery binds the message a successful send named in its output to
// the step (and item) that sent it, when the action declares delivery
// receipts. A failure to index is logged, not a failure of the step: the
// message was sent, only its receipts will not be recorded.
func (x *execution) indexDelivery(ctx context.Context, key store.StepKey, provider, action string, output json.RawMessage) {
	d := x.delivery(key, provider, action, output)
	if d == nil {
		return
	}
	if err := x.e.opts.Store.IndexMessage(context.WithoutCancel(ctx), *d); err != nil {
		x.log().Warn("could not index the message for its delivery receipts", "step", key.StepID, "item", key.Item, "message_id", d.MessageID, "error", err)
		return
	}
	x.mu.Lock()
	x.deliveries = true
	x.mu.Unlock()
	x.written.indexed()
}

// delivery returns the index row of the message a successful send named
// in its output, nil when the action declares no delivery receipts, names
// no message, or the run is a dry run.
func (x *execution) delivery(key store.StepKey, provider, action string, output json.RawMessage) *store.Delivery {
	if x.e.opts.DryRun {
		return nil
	}
	spec := x.deliverySpec(provider, action)
	id := messageID(spec, output)
	if id == "" {
		return nil
	}
	d := store.Delivery{StepKey: key, Provider: provider, MessageID: id, Event: spec.Event}
	if d.Validate() != nil {
		return nil
	}
	return &d
}

// messageID is spec.MessageID(output), the message id a send's output
// names, read with package jsondec: the output's member is found without
// decoding the others, and a string or number id is decoded without
// reflection. A text jsondec does not take goes through spec.MessageID.
func messageID(spec *sdk.DeliverySpec, output json.RawMessage) string {
	if spec == nil || spec.OutputField == "" || len(output) == 0 {
		return ""
	}
	raw, found, ok := jsondec.Field(output, spec.OutputField)
	switch {
	case !ok:
		return spec.MessageID(output)
	case !found:
		return ""
	}
	v, ok := jsondec.Decode(raw, jsondec.JSONNumbers, 1)
	if !ok {
		return sdk.MessageKey(raw)
	}
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return strconv.FormatInt(i, 10)
		}
		return v.String()
	}
	return ""
}

// deliverySpec returns the delivery declaration of an instance's action, nil
// when it has none or the project holds no plugin spec.
func (x *execution) deliverySpec(provider, action string) *sdk.DeliverySpec {
	p, ok := x.st.project.Providers[provider]
	if !ok || p.Spec == nil {
		return nil
	}
	a, ok := p.Spec.Action(action)
	if !ok {
		return nil
	}
	return a.Delivery
}

// refreshDeliveries puts the receipts recorded so far into the scope
// (steps.<id>.delivery) before a step evaluates its expressions. It reads
// the store only once the run has sent a message with receipts.
func (x *execution) refreshDeliveries(ctx context.Context) error {
	x.mu.Lock()
	sent := x.deliveries
	x.mu.Unlock()
	if !sent {
		return nil
	}
	ds, err := x.e.opts.Store.RunDeliveries(ctx, x.run.ID)
	if err != nil {
		return err
	}
	byStep := map[string][]store.Delivery{}
	for _, d := range ds {
		byStep[d.StepID] = append(byStep[d.StepID], d)
	}
	for id, res := range x.results {
		if got, ok := byStep[id]; ok {
			res.Delivery = deliveryValue(got, res.Total, res.forEach)
			x.results[id] = res
			x.scope.SetStep(id, res.data())
		}
	}
	return nil
}

// scopeDeliveries sets steps.<id>.delivery in the scope of a run that is
// not executing, from its finished step records and recorded receipts.
func (e *Engine) scopeDeliveries(ctx context.Context, scope *expr.Scope, runID string, wf *config.Workflow, recs []store.StepRecord) error {
	ds, err := e.opts.Store.RunDeliveries(ctx, runID)
	if err != nil || len(ds) == 0 {
		return err
	}
	byStep := map[string][]store.Delivery{}
	for _, d := range ds {
		byStep[d.StepID] = append(byStep[d.StepID], d)
	}
	for _, r := range recs {
		got, ok := byStep[r.StepID]
		if !ok || r.Item != store.NoItem || !r.Status.Final() {
			continue
		}
		step, ok := wf.Step(r.StepID)
		if !ok {
			continue
		}
		res := resultFromRecord(r)
		res.Delivery = deliveryValue(got, r.Total, step.ForEach != nil)
		scope.SetStep(r.StepID, res.data())
	}
	return nil
}

// deliveryValue is steps.<id>.delivery: for a step, {"status", "at",
// "event"} of its message, or null before a receipt; for a for_each step,
// the list of its items' deliveries in item order, null for an item
// without one.
func deliveryValue(ds []store.Delivery, total int, forEach bool) any {
	if !forEach {
		for _, d := range ds {
			if d.Item == store.NoItem && d.Status != "" {
				return receiptValue(d)
			}
		}
		return nil
	}
	items := make([]any, total)
	for _, d := range ds {
		if d.Item >= 0 && d.Item < total && d.Status != "" {
			items[d.Item] = receiptValue(d)
		}
	}
	return items
}

func receiptValue(d store.Delivery) map[string]any {
	ev, _ := decodeValue(d.Data)
	return map[string]any{"status": d.Status, "at": d.At.UTC(), "event": ev}
}

// ReceiptResult is a delivery receipt the engine recorded on a step.
type ReceiptResult struct {
	store.Delivery
	// Changed reports that the receipt raised the recorded status.
	Changed bool
}

// RecordReceipts records the delivery receipts among events, which a
// webhook of instance produced, on the steps (and for_each items) whose
// output named their messages, and returns those it correlated. A receipt
// for a message no run sent is ignored. The events still go to triggers and
// waits as usual (the caller offers them after this, so a wait_for's
// match reads the status just recorded); this only records. Receipts that
// raise a status are reported to the Observer as DeliveryRecorded.
func (e *Engine) RecordReceipts(ctx context.Context, instance string, events []sdk.Event) ([]ReceiptResult, error) {
	var out []ReceiptResult
	masker := e.Masker()
	for _, ev := range events {
		r := ev.Receipt
		if r == nil || r.Validate() != nil {
			continue
		}
		rec := store.Receipt{Status: string(r.Status), At: e.opts.Now().UTC(), Data: maskRaw(masker, ev.Data)}
		if !json.Valid(rec.Data) {
			rec.Data = nil
		}
		d, changed, err := e.opts.Store.RecordReceipt(ctx, instance, r.MessageID, ev.Type, rec)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, ReceiptResult{Delivery: d, Changed: changed})
		if !changed {
			continue
		}
		e.emit(Event{Type: DeliveryRecorded, RunID: d.RunID, StepID: d.StepID, Item: d.Item, Provider: instance, Status: d.Status})
		e.opts.Logger.Info("delivery receipt recorded", "run_id", d.RunID, "step", d.StepID, "item", d.Item, "status", d.Status, "message_id", d.MessageID)
	}
	return out, nil
}

// addDeliveries fills the Delivery of the view's steps and items from the
// run's recorded receipts.
func (v *RunView) addDeliveries(ds []store.Delivery) {
	index := map[string]int{}
	for i, s := range v.Steps {
		index[s.ID] = i
	}
	for _, d := range ds {
		i, ok := index[d.StepID]
		if !ok || d.Status == "" {
			continue
		}
		dv := &DeliveryView{Status: d.Status, At: d.At, Event: d.Data}
		s := &v.Steps[i]
		if d.Item == store.NoItem {
			s.Delivery = dv
			continue
		}
		for j := range s.Items {
			if s.Items[j].Index == d.Item {
				s.Items[j].Delivery = dv
			}
		}
	}
}
