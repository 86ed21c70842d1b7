package scheduler_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
)

const project = `
providers:
  chatapi:
    config: {instance_id: "1", token: "t"}
workflows:
  oncall-digest:
    triggers:
      - {type: webhook, path: oncall}
      - {type: cron, schedule: "0 9 * * MON-FRI", timezone: Europe/Berlin, catchup: latest}
      - {type: cron, schedule: "@every 30m"}
    steps:
      - {id: notify, uses: chatapi.send_message, with: {phone: "1", body: "hi"}}
  backup:
    triggers:
      - {type: cron, schedule: "30 2 * * *", timezone: America/New_York}
    steps:
      - {id: notify, uses: chatapi.send_message, with: {phone: "1", body: "hi"}}
`

func TestEntries(t *testing.T) {
	t.Parallel()
	p, diags := config.LoadSources([]config.Source{{Name: "p.yaml", Data: []byte(project)}}, config.LoadOptions{})
	require.False(t, diags.HasErrors(), "%v", diags)

	var keys []string
	for _, e := range scheduler.Entries(p) {
		require.Equal(t, config.TriggerCron, e.Trigger.Type)
		keys = append(keys, e.Workflow+" "+e.Key)
	}
	require.Equal(t, []string{
		"backup 0:30 2 * * *@America/New_York",
		"oncall-digest 0:0 9 * * MON-FRI@Europe/Berlin",
		"oncall-digest 1:@every 30m@UTC",
	}, keys)

	h := setup(t, local(t, berlin, "2026-03-27 12:00:00"))
	require.NoError(t, h.sched.Load(p))
	next, ok := h.sched.NextFire("oncall-digest", "0:0 9 * * MON-FRI@Europe/Berlin")
	require.True(t, ok)
	require.Equal(t, "2026-03-30 09:00:00 CEST", stamp(next))
}
