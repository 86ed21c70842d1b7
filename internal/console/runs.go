package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// runsPageSize is how many runs a page of the runs list shows.
const runsPageSize = 50

// runRow is one run in a list.
type runRow struct {
	ID       string
	Workflow string
	Status   string
	Kind     string
	Attempt  int
	Created  time.Time
	Started  time.Time
	Finished time.Time
	Duration string
	// Reason says why the run failed, was skipped or canceled; masked.
	Reason string
}

// runRow presents run for a list.
func (c *Console) runRow(run store.Run) runRow {
	row := runRow{ID: run.ID, Workflow: run.Workflow, Status: string(run.ShownStatus(c.now())), Attempt: run.Attempt,
		Created: run.CreatedAt, Started: run.StartedAt, Finished: run.FinishedAt, Kind: run.TriggerKind}
	if row.Kind == "" {
		row.Kind = triggerKind(run.Trigger)
	}
	if !run.StartedAt.IsZero() {
		end := run.FinishedAt
		if end.IsZero() {
			end = c.now()
		}
		row.Duration = fmtDuration(end.Sub(run.StartedAt))
	}
	row.Reason = c.mask(runReason(run))
	return row
}

// triggerKind reads the kind of a stored trigger.
func triggerKind(raw json.RawMessage) string {
	var t struct {
		Kind string `json:"kind"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil || t.Kind == "" {
		return "manual"
	}
	return t.Kind
}

// runsQuery is the runs page's filter, as its query string carries it.
type runsQuery struct {
	Workflow string
	Status   string
	Trigger  string
	// Since and Until bound the creation time; they are written as the
	// form's datetime-local values, in UTC.
	Since, Until string
	Before       string
}

// values returns q as a query string, without Before.
func (q runsQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"workflow": q.Workflow, "status": q.Status, "trigger": q.Trigger, "since": q.Since, "until": q.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// runsData fills the runs page.
type runsData struct {
	Query     runsQuery
	Runs      []runRow
	Workflows []string
	Statuses  []string
	Kinds     []string
	// Error says why the filter was refused.
	Error string
	// Next is the URL of the next (older) page; First of the newest one
	// when this page is not it.
	Next, First string
}

// live: the newest page refreshes as runs start and finish; an older page
// stays put, so paging is stable.
func (d runsData) live() (string, string) {
	if d.Query.Before != "" {
		return "", ""
	}
	return "runs", ""
}

// runStatuses are the statuses the runs filter offers.
var runStatuses = []string{"queued", "running", "waiting", "succeeded", "failed", "skipped", "canceled", "needs_attention", "interrupted"}

// triggerKinds are the trigger kinds the runs filter offers.
var triggerKinds = []string{"manual", "cron", "webhook", "event"}

// dateLayouts are the time forms the runs filter accepts.
var dateLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02"}

func parseFilterTime(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a time such as 2026-12-06T09:30 (UTC)")
}

// runsPage serves GET /runs: runs newest first, filtered, a page at a
// time (keyset pagination on the last run shown).
func (c *Console) runsPage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := runsQuery{Workflow: v.Get("workflow"), Status: v.Get("status"), Trigger: v.Get("trigger"),
		Since: v.Get("since"), Until: v.Get("until"), Before: v.Get("before")}
	data := runsData{Query: q, Statuses: runStatuses, Kinds: triggerKinds}
	if p := c.b.Project(); p != nil {
		data.Workflows = p.WorkflowNames()
	}
	filter, err := c.runFilter(q)
	code := http.StatusOK
	if err == nil {
		filter.Limit = runsPageSize + 1
		var runs []store.Run
		runs, err = c.b.Store().ListRuns(r.Context(), filter)
		if errors.Is(err, store.ErrNotFound) && q.Before != "" {
			err = errors.New("the run to page from no longer exists; start from the newest")
		}
		if len(runs) > runsPageSize {
			runs = runs[:runsPageSize]
			nv := q.values()
			nv.Set("before", runs[len(runs)-1].ID)
			data.Next = c.path("/runs") + "?" + nv.Encode()
		}
		for _, run := range runs {
			data.Runs = append(data.Runs, c.runRow(run))
		}
	}
	if err != nil {
		code = http.StatusBadRequest
		data.Error = c.mask(err.Error())
	}
	if q.Before != "" {
		data.First = c.path("/runs")
		if enc := q.values().Encode(); enc != "" {
			data.First += "?" + enc
		}
	}
	c.render(w, r, code, "runs", "Runs", data)
}

// runFilter turns the page's query into the store's filter.
func (c *Console) runFilter(q runsQuery) (store.RunFilter, error) {
	f := store.RunFilter{Workflow: q.Workflow, Before: q.Before, Now: c.now()}
	if q.Status != "" {
		if !contains(runStatuses, q.Status) {
			return f, errors.New("unknown status " + q.Status)
		}
		f.Status = store.Status(q.Status)
	}
	if q.Trigger != "" && !contains(triggerKinds, q.Trigger) {
		return f, errors.New("unknown trigger kind " + q.Trigger)
	}
	if err := applyRunFilter(&f, q); err != nil {
		return f, err
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
