package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// ErrRunState is wrapped by the error of an operation the run's current
// status does not allow, such as retrying a run that succeeded or cancelling
// one that ended (HTTP 409).
var ErrRunState = errors.New("not allowed in the run's current status")

// RunView is a run as `herald run --output json`, `herald runs show` and the
// HTTP API present it (SPEC §3, §8).
type RunView struct {
	RunID    string          `json:"run_id"`
	Workflow string          `json:"workflow"`
	Status   string          `json:"status"`
	Trigger  json.RawMessage `json:"trigger"`
	Steps    []StepView      `json:"steps"`
	Error    string          `json:"error,omitempty"`
	// Reason says in one line why the run was skipped (the when source
	// text), failed, canceled, needs attention or is interrupted.
	Reason  string `json:"reason,omitempty"`
	Attempt int    `json:"attempt"`
	// Owner names the process executing the run, while one does.
	Owner      string     `json:"owner,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Operations are the changes operators made to the run, oldest first.
	Operations []store.Operation `json:"operations,omitempty"`
}

// ErrorText is an error message that encodes as JSON null when empty, so a
// step that succeeded still carries "error": null.
type ErrorText string

// MarshalJSON encodes an empty text as null.
func (t ErrorText) MarshalJSON() ([]byte, error) {
	if t == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(t))
}

// UnmarshalJSON decodes null as the empty text.
func (t *ErrorText) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = ""
	if s != nil {
		*t = ErrorText(*s)
	}
	return nil
}

// StepView is one step of a RunView. For a for_each step, Output is the list
// of item outputs in input order, Items holds each element and Progress
// counts them.
type StepView struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Provider   string          `json:"provider,omitempty"`
	Output     json.RawMessage `json:"output"`
	Error      ErrorText       `json:"error"`
	ErrorClass string          `json:"error_class,omitempty"`
	ErrorField string          `json:"error_field,omitempty"`
	// Reason says why the step was skipped (the if source text) or
	// canceled.
	Reason string `json:"reason,omitempty"`
	// History is every attempt of the step, in order, with fallbacks and
	// for_each items; nil when the view was built without it.
	History  []AttemptView `json:"history,omitempty"`
	Items    []ItemView    `json:"items,omitempty"`
	Progress *ProgressView `json:"progress,omitempty"`
	// Delivery is the latest delivery receipt of the step's send (§10); nil
	// until receipts are correlated.
	Delivery *DeliveryView `json:"delivery,omitempty"`
}

// AttemptView is one attempt in a step's history.
type AttemptView struct {
	Attempt int `json:"attempt"`
	// Item is the for_each element the attempt sent; nil for other steps.
	Item       *int       `json:"item,omitempty"`
	Provider   string     `json:"provider"`
	Action     string     `json:"action,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS int64      `json:"duration_ms"`
	// Outcome is succeeded, retryable, permanent, rate_limited, in_doubt,
	// canceled or reconciled; "running" while the attempt is in flight.
	Outcome      string `json:"outcome"`
	Error        string `json:"error,omitempty"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	// Request is {"method","url","body"} and Response {"status","body"}:
	// what the plugin sent and got back, masked and capped at 8 KiB.
	Request  json.RawMessage `json:"request,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
}

// ItemView is one element of a for_each step.
type ItemView struct {
	Index    int             `json:"index"`
	Status   string          `json:"status"`
	Provider string          `json:"provider,omitempty"`
	Attempts int             `json:"attempts"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    string          `json:"error,omitempty"`
	// Reason says why the item was skipped, such as outside its send
	// window.
	Reason string `json:"reason,omitempty"`
	// Delivery is the latest delivery receipt of the item's send (§10).
	Delivery *DeliveryView `json:"delivery,omitempty"`
}

// ProgressView counts the elements of a for_each step. ETA, while the step
// runs, extrapolates the pace so far.
type ProgressView struct {
	Done   int        `json:"done"`
	Failed int        `json:"failed"`
	Total  int        `json:"total"`
	ETA    *time.Time `json:"eta,omitempty"`
}

// DeliveryView is a delivery receipt (§10).
type DeliveryView struct {
	Status string          `json:"status"`
	At     time.Time       `json:"at"`
	Event  json.RawMessage `json:"event,omitempty"`
}

// View reads a run with its step records, full attempt history and
// operation log from st.
func View(ctx context.Context, st store.Store, id string) (*RunView, error) {
	run, err := st.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	recs, err := st.StepRecords(ctx, id)
	if err != nil {
		return nil, err
	}
	attempts, err := st.Attempts(ctx, id)
	if err != nil {
		return nil, err
	}
	ops, err := st.Operations(ctx, id)
	if err != nil {
		return nil, err
	}
	deliveries, err := st.RunDeliveries(ctx, id)
	if err != nil {
		return nil, err
	}
	v := BuildView(run, recs, attempts, ops, time.Now())
	v.addDeliveries(deliveries)
	return v, nil
}

// NewView builds the view of run from its step records, without history, as
// run lists show it.
func NewView(run store.Run, recs []store.StepRecord) *RunView {
	return BuildView(run, recs, nil, nil, time.Now())
}

// BuildView builds the view of run at now (which decides whether a running
// run shows as interrupted, and a for_each step's ETA) from its step records,
// attempt log and operations; attempts and ops may be nil.
func BuildView(run store.Run, recs []store.StepRecord, attempts []store.Attempt, ops []store.Operation, now time.Time) *RunView {
	v := &RunView{
		RunID:      run.ID,
		Workflow:   run.Workflow,
		Status:     string(run.ShownStatus(now)),
		Trigger:    run.Trigger,
		Steps:      []StepView{},
		Error:      run.Error,
		Reason:     run.Reason,
		Attempt:    run.Attempt,
		CreatedAt:  run.CreatedAt,
		Operations: ops,
	}
	if run.Status == store.StatusRunning || run.Status == store.StatusWaiting {
		v.Owner = run.Owner
	}
	if v.Status == string(store.StatusInterrupted) && v.Reason == "" {
		v.Reason = "the process executing the run stopped; `herald runs resume " + run.ID + "` or a `herald serve` completes it"
	}
	if v.Trigger == nil {
		v.Trigger = json.RawMessage("{}")
	}
	if !run.StartedAt.IsZero() {
		t := run.StartedAt
		v.StartedAt = &t
	}
	if !run.FinishedAt.IsZero() {
		t := run.FinishedAt
		v.FinishedAt = &t
	}
	index := map[string]int{}
	aggregate := map[string]store.StepRecord{}
	for _, r := range recs {
		i, ok := index[r.StepID]
		if !ok {
			i = len(v.Steps)
			index[r.StepID] = i
			v.Steps = append(v.Steps, StepView{ID: r.StepID, Status: string(store.StatusRunning), Output: json.RawMessage("null")})
		}
		s := &v.Steps[i]
		if r.Item != store.NoItem {
			item := ItemView{Index: r.Item, Status: string(r.Status), Provider: r.Provider, Attempts: r.Attempts, Output: r.Output, Reason: r.Reason}
			if r.Error != nil {
				item.Error = r.Error.Message
			}
			s.Items = append(s.Items, item)
			if agg, ok := aggregate[r.StepID]; !ok || !agg.Status.Final() {
				// Elements of a for_each step still running; the final
				// aggregate record holds what they add up to.
				s.Attempts += r.Attempts
				if s.Provider == "" {
					s.Provider = r.Provider
				}
			}
			continue
		}
		aggregate[r.StepID] = r
		items := s.Items
		*s = StepView{ID: r.StepID, Status: string(r.Status), Attempts: r.Attempts, Provider: r.Provider, Output: r.Output, Reason: r.Reason, Items: items}
		if s.Output == nil {
			s.Output = json.RawMessage("null")
		}
		if r.Error != nil {
			s.Error, s.ErrorClass, s.ErrorField = ErrorText(r.Error.Message), r.Error.Class, r.Error.Field
		}
	}
	for id, agg := range aggregate {
		s := &v.Steps[index[id]]
		if agg.Total == 0 && len(s.Items) == 0 {
			continue
		}
		p := &ProgressView{Total: max(agg.Total, len(s.Items))}
		for _, it := range s.Items {
			switch store.Status(it.Status) {
			case store.StatusFailed:
				p.Failed++
				p.Done++
			case store.StatusSucceeded, store.StatusSkipped, store.StatusCanceled:
				p.Done++
			}
		}
		if !agg.Status.Final() && p.Done > 0 && p.Done < p.Total && !agg.StartedAt.IsZero() {
			elapsed := now.Sub(agg.StartedAt)
			eta := now.Add(time.Duration(float64(elapsed) / float64(p.Done) * float64(p.Total-p.Done)))
			p.ETA = &eta
		}
		s.Progress = p
	}
	for _, a := range attempts {
		i, ok := index[a.StepID]
		if !ok {
			continue
		}
		v.Steps[i].History = append(v.Steps[i].History, attemptView(a, now))
	}
	return v
}

func attemptView(a store.Attempt, now time.Time) AttemptView {
	av := AttemptView{
		Attempt:      a.Number,
		Provider:     a.Provider,
		Action:       a.Action,
		StartedAt:    a.StartedAt,
		Outcome:      string(a.Outcome),
		RetryAfterMS: a.RetryAfter.Milliseconds(),
		Request:      a.Request,
		Response:     a.Response,
	}
	if a.Item != store.NoItem {
		item := a.Item
		av.Item = &item
	}
	end := now
	if !a.FinishedAt.IsZero() {
		t := a.FinishedAt
		av.FinishedAt = &t
		end = t
	}
	av.DurationMS = end.Sub(a.StartedAt).Milliseconds()
	if av.Outcome == "" {
		av.Outcome = string(a.Status)
	}
	if a.Error != nil {
		av.Error = a.Error.Message
	}
	return av
}

// Mask masks every text of the view that could carry a secret: errors,
// reasons, outputs, the attempts' requests and responses and the operation
// log. The engine masks what it records; this also covers secrets added to
// the project since (a reload).
func (v *RunView) Mask(m *sdk.Masker) {
	if m == nil {
		return
	}
	v.Error = m.String(v.Error)
	v.Reason = m.String(v.Reason)
	v.Trigger = maskRaw(m, v.Trigger)
	for i := range v.Operations {
		v.Operations[i].Detail = m.String(v.Operations[i].Detail)
	}
	for i := range v.Steps {
		s := &v.Steps[i]
		s.Error = ErrorText(m.String(string(s.Error)))
		s.Reason = m.String(s.Reason)
		s.Output = maskRaw(m, s.Output)
		if s.Delivery != nil {
			s.Delivery.Event = maskRaw(m, s.Delivery.Event)
		}
		for j := range s.History {
			h := &s.History[j]
			h.Error = m.String(h.Error)
			h.Request = maskRaw(m, h.Request)
			h.Response = maskRaw(m, h.Response)
		}
		for j := range s.Items {
			s.Items[j].Error = m.String(s.Items[j].Error)
			s.Items[j].Output = maskRaw(m, s.Items[j].Output)
			if d := s.Items[j].Delivery; d != nil {
				d.Event = maskRaw(m, d.Event)
			}
		}
	}
}

// maskRaw masks a JSON value's text; a secret inside a JSON string is
// masked in its JSON-escaped form, so the value stays valid JSON.
func maskRaw(m *sdk.Masker, b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return b
	}
	out := m.String(string(b))
	if out == string(b) {
		return b
	}
	if !json.Valid([]byte(out)) {
		// Never hand the unmasked bytes back: the masked text as a string.
		q, _ := json.Marshal(out)
		return q
	}
	return json.RawMessage(out)
}
