package console

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
)

// Limits of the schedule page.
const (
	defaultFires = 10
	maxFires     = 100
)

// fireRow is one upcoming fire on the schedule page.
type fireRow struct {
	scheduler.Fire
	Workflow string
	Schedule string
	Timezone string
}

// scheduleData fills the schedule page.
type scheduleData struct {
	Fires []fireRow
	// PerTrigger is how many fires of each trigger were computed.
	PerTrigger int
	Triggers   int
}

// schedulePage serves GET /schedule?n=: the next n fires of every cron
// trigger, merged in time order, each in its trigger's timezone with the
// daylight-saving notes `herald schedule` prints.
func (c *Console) schedulePage(w http.ResponseWriter, r *http.Request) {
	n := defaultFires
	if s := r.URL.Query().Get("n"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = min(v, maxFires)
		}
	}
	data := scheduleData{PerTrigger: n}
	now := c.now()
	if p := c.b.Project(); p != nil {
		for _, name := range p.WorkflowNames() {
			for _, t := range p.Workflows[name].Triggers {
				if t.Type != config.TriggerCron {
					continue
				}
				data.Triggers++
				tz := t.Timezone
				if tz == "" {
					tz = config.DefaultTimezone
				}
				for _, f := range scheduler.Upcoming(t, now, n) {
					data.Fires = append(data.Fires, fireRow{Fire: f, Workflow: name, Schedule: t.Schedule, Timezone: tz})
				}
			}
		}
	}
	sort.SliceStable(data.Fires, func(i, j int) bool { return data.Fires[i].Time.Before(data.Fires[j].Time) })
	if len(data.Fires) > maxFires {
		data.Fires = data.Fires[:maxFires]
	}
	c.render(w, r, http.StatusOK, "schedule", "Schedule", data)
}

// pluginsTimeout bounds describing and health-checking the plugins.
const pluginsTimeout = 5 * time.Second

// pluginsData fills the plugins page.
type pluginsData struct {
	Plugins []PluginInfo
	// Ready is the host's readiness, as /readyz reports it.
	Ready      bool
	ReadyError string
}

// pluginsPage serves GET /plugins.
func (c *Console) pluginsPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pluginsTimeout)
	defer cancel()
	data := pluginsData{Plugins: c.b.Plugins(ctx)}
	for i := range data.Plugins {
		data.Plugins[i].Health = c.mask(data.Plugins[i].Health)
	}
	if err := c.b.Ready(ctx); err != nil {
		data.ReadyError = c.mask(err.Error())
	} else {
		data.Ready = true
	}
	c.render(w, r, http.StatusOK, "plugins", "Plugins", data)
}
