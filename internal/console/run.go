package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
)

// runData fills a run's page.
type runData struct {
	Run      *engine.RunView
	Kind     string
	Duration string
	// Steps are the run's steps in order, with what the workflow declares
	// of each (its action and fallbacks), and the workflow's steps that
	// have not run yet.
	Steps []stepData
	// The actions the run's status allows.
	CanCancel, CanRetry, CanSignal, CanResolve bool
	// Notice and Error report the outcome of an action.
	Notice, Error string
}

func (d runData) live() (string, string) { return "run", d.Run.RunID }

func (d runData) canonical(prefix string) string {
	return prefix + "/runs/" + url.PathEscape(d.Run.RunID)
}

// stepData is one step of a run's timeline.
type stepData struct {
	engine.StepView
	// Uses is the step's declared action and Fallbacks its fallbacks, in
	// order; empty when the workflow no longer has the step.
	Uses      string
	Fallbacks []string
	ForEach   bool
	// Pending marks a declared step the run has not reached.
	Pending bool
}

// runPage serves GET /runs/{id}.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request) {
	c.renderRun(w, r, http.StatusOK, "", "")
}

// renderRun renders the run's page with the outcome of an action.
func (c *Console) renderRun(w http.ResponseWriter, r *http.Request, code int, notice, failure string) {
	id := r.PathValue("id")
	v, err := engine.View(r.Context(), c.b.Store(), id)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		c.renderError(w, r, http.StatusNotFound, "No such run", fmt.Sprintf("There is no run %q.", id))
		return
	case err != nil:
		c.log.Error("console: read run", "run", id, "error", c.mask(err.Error()))
		c.renderError(w, r, http.StatusInternalServerError, "Internal error", "The run could not be read; see the host log.")
		return
	}
	v = c.maskRun(v)
	data := runData{Run: v, Kind: triggerKind(v.Trigger), Notice: notice, Error: failure}
	if v.StartedAt != nil {
		end := c.now()
		if v.FinishedAt != nil {
			end = *v.FinishedAt
		}
		data.Duration = fmtDuration(end.Sub(*v.StartedAt))
	}
	c.runStatusActions(&data)
	data.Steps = c.stepData(v)
	c.render(w, r, code, "run", "Run "+v.RunID, data)
}

// maskRun masks a run object as the API does (engine.RunView.Mask, the
// one masking rule): errors, reasons, the trigger payload, outputs and
// every attempt's request and response.
func (c *Console) maskRun(v *engine.RunView) *engine.RunView {
	v.Mask(c.masker())
	return v
}

// stepData joins the run's steps with the workflow's declarations.
func (c *Console) stepData(v *engine.RunView) []stepData {
	var wf *config.Workflow
	if p := c.b.Project(); p != nil {
		wf = p.Workflows[v.Workflow]
	}
	seen := map[string]bool{}
	var out []stepData
	for _, s := range v.Steps {
		sd := stepData{StepView: s}
		if wf != nil {
			if decl, ok := wf.Step(s.ID); ok {
				describeStep(&sd, decl)
			}
		}
		seen[s.ID] = true
		out = append(out, sd)
	}
	if wf != nil && !store.Status(v.Status).Final() {
		for _, decl := range wf.Steps {
			if seen[decl.ID] {
				continue
			}
			sd := stepData{StepView: engine.StepView{ID: decl.ID, Status: "pending"}, Pending: true}
			describeStep(&sd, decl)
			out = append(out, sd)
		}
	}
	return out
}

func describeStep(sd *stepData, decl *config.Step) {
	sd.Uses = decl.Uses
	switch {
	case decl.WaitFor != nil:
		sd.Uses = "wait_for " + decl.WaitFor.String() + ", timeout " + decl.WaitFor.TimeoutText()
	case decl.Wait != nil && decl.Wait.Until != nil:
		sd.Uses = "wait until a time"
	case decl.Wait != nil:
		sd.Uses = "wait " + decl.Wait.DurationText()
	}
	sd.ForEach = decl.ForEach != nil
	for _, fb := range decl.Fallback {
		sd.Fallbacks = append(sd.Fallbacks, fb.Uses)
	}
}

// by names the operator of an action in the run's operation log.
func by(r *http.Request) string { return "console:" + r.RemoteAddr }

// actionDone answers an action: back to the run's page when it worked, or
// the page with the error.
func (c *Console) actionDone(w http.ResponseWriter, r *http.Request, what string, err error) {
	if err == nil {
		http.Redirect(w, r, c.path("/runs/"+r.PathValue("id")), http.StatusSeeOther)
		return
	}
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case isRunState(err):
		code = http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, httpapi.ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	msg := c.mask(err.Error())
	if code == http.StatusInternalServerError {
		c.log.Error("console: "+what, "run", r.PathValue("id"), "error", msg)
	}
	if code == http.StatusNotFound && strings.Contains(msg, r.PathValue("id")) {
		c.renderError(w, r, code, "No such run", msg)
		return
	}
	c.renderRun(w, r, code, "", what+" refused: "+msg)
}

// retryRun serves POST /runs/{id}/retry (from_step optional).
func (c *Console) retryRun(w http.ResponseWriter, r *http.Request) {
	err := c.b.RetryRun(r.Context(), r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("from_step")), by(r))
	c.actionDone(w, r, "Retry", err)
}

// cancelRun serves POST /runs/{id}/cancel.
func (c *Console) cancelRun(w http.ResponseWriter, r *http.Request) {
	c.actionDone(w, r, "Cancel", c.b.CancelRun(r.Context(), r.PathValue("id"), by(r)))
}

// resolveRun serves POST /runs/{id}/resolve: step, item (optional) and
// as = sent | unsent.
func (c *Console) resolveRun(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	step := strings.TrimSpace(f.Get("step"))
	item := -1
	if s := strings.TrimSpace(f.Get("item")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			c.actionDone(w, r, "Resolve", fmt.Errorf("%w: item %q is not an index", store.ErrInvalid, s))
			return
		}
		item = n
	}
	as := f.Get("as")
	if step == "" || (as != "sent" && as != "unsent") {
		c.actionDone(w, r, "Resolve", fmt.Errorf("%w: resolve needs a step and as=sent or as=unsent", store.ErrInvalid))
		return
	}
	c.actionDone(w, r, "Resolve", c.b.ResolveRun(r.Context(), r.PathValue("id"), step, item, as == "sent", by(r)))
}

// signalRun serves POST /runs/{id}/signal: name and optional JSON data.
func (c *Console) signalRun(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" {
		c.actionDone(w, r, "Signal", fmt.Errorf("%w: the signal needs a name", store.ErrInvalid))
		return
	}
	var data json.RawMessage
	if raw := strings.TrimSpace(r.PostForm.Get("data")); raw != "" {
		if !json.Valid([]byte(raw)) {
			c.actionDone(w, r, "Signal", fmt.Errorf("%w: the signal's data is not valid JSON", store.ErrInvalid))
			return
		}
		data = json.RawMessage(raw)
	}
	c.actionDone(w, r, "Signal", c.b.SignalRun(r.Context(), r.PathValue("id"), name, data, by(r)))
}

// runDuration is a run's duration so far, for lists and headers.
func runDuration(start, end *time.Time, now time.Time) string {
	if start == nil {
		return ""
	}
	e := now
	if end != nil {
		e = *end
	}
	return fmtDuration(e.Sub(*start))
}
