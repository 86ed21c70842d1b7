package httpapi

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// workflowView is a workflow as GET /api/v1/workflows presents it.
type workflowView struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Triggers    []triggerView   `json:"triggers"`
	Concurrency concurrencyView `json:"concurrency"`
	// Steps are the step IDs in order.
	Steps []string `json:"steps"`
}

// triggerView is one trigger of a workflowView; only the fields of its type
// are set. No secret is ever shown: Signed says whether a webhook has one.
type triggerView struct {
	Type string `json:"type"`
	// Schedule, Timezone, Catchup and NextFire (in Timezone) describe a
	// cron trigger.
	Schedule string     `json:"schedule,omitempty"`
	Timezone string     `json:"timezone,omitempty"`
	Catchup  string     `json:"catchup,omitempty"`
	NextFire *time.Time `json:"next_fire,omitempty"`
	// Path, URL, Signed, Respond and RespondTimeout (with respond =
	// "output") describe a webhook trigger.
	Path           string `json:"path,omitempty"`
	URL            string `json:"url,omitempty"`
	Signed         *bool  `json:"signed,omitempty"`
	Respond        string `json:"respond,omitempty"`
	RespondTimeout string `json:"respond_timeout,omitempty"`
	// Event and Provider describe an event trigger.
	Event    string `json:"event,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// concurrencyView is a workflow's concurrency; Limit 0 is unlimited.
type concurrencyView struct {
	Limit   int    `json:"limit"`
	OnLimit string `json:"on_limit"`
}

// listWorkflowsResponse answers GET /api/v1/workflows.
type listWorkflowsResponse struct {
	Workflows []workflowView `json:"workflows"`
}

// listWorkflows serves GET /api/v1/workflows: every workflow, by name, with
// its triggers and their next fire times.
func (a *api) listWorkflows(w http.ResponseWriter, r *http.Request) {
	p := a.rt.Project()
	if p == nil {
		a.fail(w, http.StatusServiceUnavailable, "no project is loaded")
		return
	}
	resp := listWorkflowsResponse{Workflows: make([]workflowView, 0, len(p.Workflows))}
	for _, name := range p.WorkflowNames() {
		resp.Workflows = append(resp.Workflows, a.workflowView(p.Workflows[name]))
	}
	a.writeJSON(w, http.StatusOK, resp)
}

// getWorkflow serves GET /api/v1/workflows/{name}: one workflow.
func (a *api) getWorkflow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p := a.rt.Project()
	if p == nil {
		a.fail(w, http.StatusServiceUnavailable, "no project is loaded")
		return
	}
	wf, ok := p.Workflows[name]
	if !ok {
		a.fail(w, http.StatusNotFound, "workflow %q not found", name)
		return
	}
	a.writeJSON(w, http.StatusOK, a.workflowView(wf))
}

// workflowView presents wf with the Runtime's next fire times.
func (a *api) workflowView(wf *config.Workflow) workflowView {
	v := workflowView{
		Name:        wf.Name,
		Description: wf.Description,
		Triggers:    make([]triggerView, 0, len(wf.Triggers)),
		Concurrency: concurrencyView{Limit: wf.Concurrency.Limit, OnLimit: string(wf.Concurrency.OnLimit)},
		Steps:       make([]string, 0, len(wf.Steps)),
	}
	if v.Concurrency.OnLimit == "" {
		v.Concurrency.OnLimit = string(config.OnLimitQueue)
	}
	for _, s := range wf.Steps {
		v.Steps = append(v.Steps, s.ID)
	}
	next := a.rt.NextFires(wf.Name)
	for i, t := range wf.Triggers {
		tv := triggerView{Type: string(t.Type)}
		switch t.Type {
		case config.TriggerCron:
			tv.Schedule, tv.Timezone, tv.Catchup = t.Schedule, t.Timezone, string(t.Catchup)
			if tv.Timezone == "" {
				tv.Timezone = config.DefaultTimezone
			}
			if tv.Catchup == "" {
				tv.Catchup = string(config.CatchupSkip)
			}
			if i < len(next) && !next[i].IsZero() {
				at := next[i]
				if t.Location != nil {
					at = at.In(t.Location)
				}
				tv.NextFire = &at
			}
		case config.TriggerWebhook:
			signed := t.Secret != ""
			tv.Path, tv.URL, tv.Signed, tv.Respond = t.Path, "/hooks/"+t.Path, &signed, string(t.Respond)
			if t.RespondTimeout > 0 {
				tv.RespondTimeout = t.RespondTimeout.String()
			}
		case config.TriggerEvent:
			tv.Event, tv.Provider = t.Event, t.Provider
		}
		v.Triggers = append(v.Triggers, tv)
	}
	return v
}
