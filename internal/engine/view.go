package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// RunView is a run as `herald run --output json`, `herald runs show` and the
// HTTP API present it.
type RunView struct {
	RunID      string          `json:"run_id"`
	Workflow   string          `json:"workflow"`
	Status     string          `json:"status"`
	Trigger    json.RawMessage `json:"trigger"`
	Steps      []StepView      `json:"steps"`
	Error      string          `json:"error,omitempty"`
	Attempt    int             `json:"attempt"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// StepView is one step of a RunView. For a for_each step, Output is the list
// of item outputs in input order and Items counts the elements recorded.
type StepView struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Provider   string          `json:"provider,omitempty"`
	Output     json.RawMessage `json:"output"`
	Error      string          `json:"error,omitempty"`
	ErrorClass string          `json:"error_class,omitempty"`
	ErrorField string          `json:"error_field,omitempty"`
	Items      int             `json:"items,omitempty"`
}

// Mask masks v's error texts, trigger and outputs in place and returns v.
// The engine masks what it records; this also covers secrets added since.
func (v *RunView) Mask(m *sdk.Masker) *RunView {
	v.Error = m.String(v.Error)
	v.Trigger = maskRaw(m, v.Trigger)
	for i := range v.Steps {
		v.Steps[i].Error = m.String(v.Steps[i].Error)
		v.Steps[i].Output = maskRaw(m, v.Steps[i].Output)
	}
	return v
}

// maskRaw masks a JSON document; the masker knows each secret's JSON
// escapes, so the result is JSON still.
func maskRaw(m *sdk.Masker, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	return json.RawMessage(m.String(string(raw)))
}

// View reads a run and its step records from st.
func View(ctx context.Context, st store.Store, id string) (*RunView, error) {
	run, err := st.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	recs, err := st.StepRecords(ctx, id)
	if err != nil {
		return nil, err
	}
	return NewView(run, recs), nil
}

// NewView builds the view of run from its step records.
func NewView(run store.Run, recs []store.StepRecord) *RunView {
	v := &RunView{
		RunID:     run.ID,
		Workflow:  run.Workflow,
		Status:    string(run.Status),
		Trigger:   run.Trigger,
		Steps:     []StepView{},
		Error:     run.Error,
		Attempt:   run.Attempt,
		CreatedAt: run.CreatedAt,
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
	for _, r := range recs {
		i, ok := index[r.StepID]
		if !ok {
			i = len(v.Steps)
			index[r.StepID] = i
			v.Steps = append(v.Steps, StepView{ID: r.StepID, Status: string(store.StatusRunning), Output: json.RawMessage("null")})
		}
		s := &v.Steps[i]
		if r.Item != store.NoItem {
			// Elements of a for_each step still running; the aggregate
			// record, once written, replaces what they add up to.
			s.Items++
			if s.Status == string(store.StatusRunning) {
				s.Attempts += r.Attempts
				if s.Provider == "" {
					s.Provider = r.Provider
				}
			}
			continue
		}
		items := s.Items
		*s = StepView{ID: r.StepID, Status: string(r.Status), Attempts: r.Attempts, Provider: r.Provider, Output: r.Output, Items: items}
		if s.Output == nil {
			s.Output = json.RawMessage("null")
		}
		if r.Error != nil {
			s.Error, s.ErrorClass, s.ErrorField = r.Error.Message, r.Error.Class, r.Error.Field
		}
	}
	return v
}
