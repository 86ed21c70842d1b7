package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// Entry is one cron trigger of a workflow, as the scheduler knows it.
type Entry struct {
	// Workflow is the name of the workflow the trigger starts.
	Workflow string
	// Key identifies the trigger within the workflow; its durable state is
	// stored under it. TriggerKey builds it.
	Key string
	// Trigger is the cron trigger, with its parsed schedule and timezone.
	Trigger *config.Trigger
}

// maxScheduleInKey is the longest schedule a trigger key spells out; a
// longer one is replaced by a digest, so keys (and the idempotency keys
// built from them) stay short.
const maxScheduleInKey = 64

// TriggerKey returns the stable key of a workflow's cron trigger: its index
// among the workflow's cron triggers, its schedule with whitespace
// normalised, and its timezone, as "0:0 9 * * MON-FRI@Europe/Berlin". A
// schedule longer than 64 bytes is written as "sha256:" and 16 hex digits of
// its digest. An edit of the schedule or timezone makes a new key, so the
// edited trigger starts fresh instead of catching up under the old schedule;
// a change of catchup policy keeps the key.
func TriggerKey(index int, t *config.Trigger) string {
	tz := t.Timezone
	if tz == "" {
		tz = config.DefaultTimezone
	}
	schedule := strings.Join(strings.Fields(t.Schedule), " ")
	if len(schedule) > maxScheduleInKey {
		sum := sha256.Sum256([]byte(schedule))
		schedule = "sha256:" + hex.EncodeToString(sum[:8])
	}
	return strconv.Itoa(index) + ":" + schedule + "@" + tz
}

// Entries returns the cron triggers of p with their keys, by workflow name
// and then in declaration order.
func Entries(p *config.Project) []Entry {
	var out []Entry
	for _, name := range p.WorkflowNames() {
		i := 0
		for _, t := range p.Workflows[name].Triggers {
			if t.Type != config.TriggerCron {
				continue
			}
			out = append(out, Entry{Workflow: name, Key: TriggerKey(i, t), Trigger: t})
			i++
		}
	}
	return out
}

// validate reports why e cannot be scheduled.
func (e Entry) validate() error {
	switch {
	case e.Workflow == "":
		return fmt.Errorf("cron trigger %q has no workflow", e.Key)
	case e.Key == "":
		return fmt.Errorf("a cron trigger of workflow %q has no key", e.Workflow)
	case e.Trigger == nil:
		return fmt.Errorf("cron trigger %s of workflow %q has no trigger", e.Key, e.Workflow)
	case e.Trigger.Type != config.TriggerCron:
		return fmt.Errorf("trigger %s of workflow %q is a %s trigger, not a cron trigger", e.Key, e.Workflow, e.Trigger.Type)
	case e.Trigger.Cron == nil:
		return fmt.Errorf("cron trigger %s of workflow %q has no parsed schedule", e.Key, e.Workflow)
	}
	return nil
}

// Due is a fire handed to Options.Fire.
type Due struct {
	// Workflow is the workflow to run.
	Workflow string
	// TriggerKey is the Entry.Key of the trigger that fired.
	TriggerKey string
	// ScheduledTime is when the fire was scheduled, in the trigger's
	// timezone; the run's trigger.scheduled_time.
	ScheduledTime time.Time
	// Catchup is set for a fire missed while no host ran (or while the
	// scheduler stalled) and run late by the trigger's catchup policy.
	Catchup bool
}

// IdempotencyKey returns the key to create the fire's run under,
// "cron:<workflow>:<trigger key>:<scheduled time in UTC, RFC 3339>". It is
// the same every time the same fire is handed over, so the run is created
// once however often Fire is called for it.
func (d Due) IdempotencyKey() string {
	return "cron:" + d.Workflow + ":" + d.TriggerKey + ":" + d.ScheduledTime.UTC().Format(time.RFC3339)
}
