package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/scheduler"
	"github.com/heraldhq/herald/internal/store"
)

// Limits of the workflow pages.
const (
	// lastRunsList is how many recent runs the workflows page shows per
	// workflow, lastRunsPage how many its own page shows.
	lastRunsList = 5
	lastRunsPage = 10
	// firesPage is how many upcoming fires a workflow page shows per cron
	// trigger.
	firesPage = 5
)

// triggerInfo is one trigger as the workflow pages show it. No secret is
// shown: Signed says whether a webhook has one.
type triggerInfo struct {
	Type     string
	Schedule string
	Timezone string
	Catchup  string
	Path     string
	Signed   bool
	Event    string
	Provider string
	// Next is the next fire (cron only), Fires the next few on a
	// workflow's own page; each in the trigger's timezone.
	Next  *scheduler.Fire
	Fires []scheduler.Fire
}

// workflowInfo is one workflow on the workflows page.
type workflowInfo struct {
	Name        string
	Description string
	Steps       []string
	Triggers    []triggerInfo
	Concurrency string
	LastRuns    []runRow
}

// workflowsData fills the workflows page.
type workflowsData struct {
	Workflows []workflowInfo
	Loaded    bool
}

// workflowData fills a workflow's page.
type workflowData struct {
	workflowInfo
	// Input is the manual run form's input, kept when it was refused, and
	// InputError says why.
	Input      string
	InputError string
	// Idem makes the form's submission idempotent: a double click starts
	// one run.
	Idem string
}

func (d workflowData) live() (string, string) { return "workflow", "" }

func (d workflowData) canonical(prefix string) string {
	return prefix + "/workflows/" + url.PathEscape(d.Name)
}

// workflowsPage serves GET /workflows.
func (c *Console) workflowsPage(w http.ResponseWriter, r *http.Request) {
	p := c.b.Project()
	data := workflowsData{Loaded: p != nil}
	if p != nil {
		for _, name := range p.WorkflowNames() {
			data.Workflows = append(data.Workflows, c.workflowInfo(r, p.Workflows[name], lastRunsList, 0))
		}
	}
	c.render(w, r, http.StatusOK, "workflows", "Workflows", data)
}

// workflowPage serves GET /workflows/{name}.
func (c *Console) workflowPage(w http.ResponseWriter, r *http.Request) {
	c.renderWorkflow(w, r, http.StatusOK, "{}", "")
}

func (c *Console) renderWorkflow(w http.ResponseWriter, r *http.Request, code int, input, inputErr string) {
	name := r.PathValue("name")
	p := c.b.Project()
	var wf *config.Workflow
	if p != nil {
		wf = p.Workflows[name]
	}
	if wf == nil {
		c.renderError(w, r, http.StatusNotFound, "No such workflow", fmt.Sprintf("The project has no workflow %q.", name))
		return
	}
	data := workflowData{workflowInfo: c.workflowInfo(r, wf, lastRunsPage, firesPage), Input: input, InputError: inputErr, Idem: randomHex(12)}
	c.render(w, r, code, "workflow", wf.Name, data)
}

// workflowInfo presents wf with its next fires and last runs.
func (c *Console) workflowInfo(r *http.Request, wf *config.Workflow, runs, fires int) workflowInfo {
	info := workflowInfo{Name: wf.Name, Description: wf.Description}
	for _, s := range wf.Steps {
		info.Steps = append(info.Steps, s.ID)
	}
	info.Concurrency = "unlimited"
	if wf.Concurrency.Limit > 0 {
		onLimit := wf.Concurrency.OnLimit
		if onLimit == "" {
			onLimit = config.OnLimitQueue
		}
		info.Concurrency = fmt.Sprintf("%d at a time, then %s", wf.Concurrency.Limit, onLimit)
	}
	now := c.now()
	next := c.b.NextFires(wf.Name)
	for i, t := range wf.Triggers {
		ti := triggerInfo{Type: string(t.Type)}
		switch t.Type {
		case config.TriggerCron:
			ti.Schedule, ti.Timezone, ti.Catchup = t.Schedule, t.Timezone, string(t.Catchup)
			if ti.Timezone == "" {
				ti.Timezone = config.DefaultTimezone
			}
			ti.Fires = scheduler.Upcoming(t, now, max(fires, 1))
			if i < len(next) && !next[i].IsZero() {
				// The scheduler's own next fire, which a catch-up may
				// place earlier than the schedule's; its note is the
				// schedule's when they agree.
				f := scheduler.Fire{Time: inZone(next[i], t.Location)}
				if len(ti.Fires) > 0 && ti.Fires[0].Time.Equal(f.Time) {
					f.Note = ti.Fires[0].Note
				}
				ti.Next = &f
			} else if len(ti.Fires) > 0 {
				ti.Next = &ti.Fires[0]
			}
			if fires == 0 {
				ti.Fires = nil
			}
		case config.TriggerWebhook:
			ti.Path, ti.Signed = t.Path, t.Secret != ""
		case config.TriggerEvent:
			ti.Event, ti.Provider = t.Event, t.Provider
		}
		info.Triggers = append(info.Triggers, ti)
	}
	if runs > 0 {
		list, err := c.b.Store().ListRuns(r.Context(), store.RunFilter{Workflow: wf.Name, Limit: runs})
		if err != nil {
			c.log.Warn("console: list runs", "workflow", wf.Name, "error", c.mask(err.Error()))
		}
		for _, run := range list {
			info.LastRuns = append(info.LastRuns, c.runRow(run))
		}
	}
	return info
}

func inZone(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		return t.UTC()
	}
	return t.In(loc)
}

// startRun serves POST /workflows/{name}/runs: a manual run with the
// form's JSON input as trigger.body, as the API's manual trigger starts it.
func (c *Console) startRun(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p := c.b.Project()
	if p == nil || p.Workflows[name] == nil {
		c.renderError(w, r, http.StatusNotFound, "No such workflow", fmt.Sprintf("The project has no workflow %q.", name))
		return
	}
	raw := r.PostForm.Get("input")
	var body any
	if strings.TrimSpace(raw) != "" {
		v, err := engine.DecodeJSON([]byte(raw))
		if err != nil {
			c.renderWorkflow(w, r, http.StatusBadRequest, raw, "The input is not valid JSON: "+err.Error())
			return
		}
		body = v
	}
	key := ""
	if idem := r.PostForm.Get("idem"); idem != "" && len(idem) <= 64 {
		key = "console:" + name + ":" + idem
	}
	trig := engine.Trigger{Kind: engine.KindManual, Time: c.now().UTC(), Body: body}
	id, _, err := c.b.Trigger(r.Context(), name, trig, key, httpapi.IdempotencyTTL)
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, engine.ErrUnknownWorkflow):
			code = http.StatusNotFound
		case errors.Is(err, store.ErrInvalid):
			code = http.StatusBadRequest
		case errors.Is(err, httpapi.ErrUnavailable):
			code = http.StatusServiceUnavailable
		}
		c.renderWorkflow(w, r, code, raw, "The run was not started: "+c.mask(err.Error()))
		return
	}
	http.Redirect(w, r, c.path("/runs/"+id), http.StatusSeeOther)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
