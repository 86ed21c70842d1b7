package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
)

// escalationTimeout is the ack_timeout the test's pages give instead of the
// example's default 2 minutes, long enough for a receipt or a click on a
// loaded machine.
const escalationTimeout = "10s"

// TestEscalationExample runs workflows/escalation.hcl, unchanged, under
// herald serve against the sandbox, its wait shortened to escalationTimeout
// by the webhook's ack_timeout (the link's case keeps the default 2
// minutes), through its
// three branches: the page's read receipt arrives (no escalation), the
// acknowledge link is opened and confirmed (no escalation), nothing comes
// (escalation through ChitChatLabs and Chatwoot after the timeout).
func TestEscalationExample(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../workflows/escalation.hcl")
	require.NoError(t, err)
	e := newServeEnv(t, string(src))
	e.args = append(e.args, "--public-url", e.url)
	e.start()
	hook := e.url + "/providers/chatapi/webhook"

	// page starts a run and returns its id and the page's text; a
	// non-empty ackTimeout sets the run's vars.ack_timeout.
	page := func(summary, ackTimeout string) (string, string) {
		before := len(e.sandbox.Requests("chatapi"))
		input := map[string]string{"summary": summary}
		if ackTimeout != "" {
			input["ack_timeout"] = ackTimeout
		}
		raw, _ := json.Marshal(input)
		code, out := e.post("/hooks/escalation", raw, nil)
		require.Equal(t, http.StatusAccepted, code, "%v", out)
		ids := out["run_ids"].([]any)
		require.Len(t, ids, 1)
		e.eventually(30*time.Second, "the page was sent", func() bool { return len(e.sandbox.Requests("chatapi")) > before })
		var body struct {
			Body string `json:"body"`
		}
		require.NoError(t, json.Unmarshal(e.sandbox.Requests("chatapi")[before].Body, &body))
		return ids[0].(string), body.Body
	}
	finished := func(id string) map[string]map[string]any {
		e.eventually(60*time.Second, "run "+id+" finished", func() bool { return e.showRun(id).Status == "succeeded" })
		v := e.showRun(id)
		steps := map[string]map[string]any{}
		for _, s := range v.Steps {
			var out map[string]any
			_ = json.Unmarshal(s.Output, &out)
			steps[s.ID] = map[string]any{"status": s.Status, "output": out}
		}
		return steps
	}
	escalations := func() int { return len(e.sandbox.Requests("chitchatlabs")) }

	t.Run("read receipt", func(t *testing.T) {
		require.NoError(t, e.sandbox.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatapi", WebhookURL: hook, DelayMS: 50, Final: "read"}))
		id, _ := page("read", escalationTimeout)
		steps := finished(id)
		require.Equal(t, true, steps["ack"]["output"].(map[string]any)["matched"])
		require.Equal(t, false, steps["ack"]["output"].(map[string]any)["timed_out"])
		require.Equal(t, "viewed", steps["ack"]["output"].(map[string]any)["event"].(map[string]any)["status"])
		require.Equal(t, "skipped", steps["escalate"]["status"])
		require.Equal(t, "skipped", steps["ticket"]["status"])
		require.Equal(t, "read", e.showRun(id).Steps[0].Delivery.Status)
		require.Zero(t, escalations())
	})

	t.Run("acknowledge link", func(t *testing.T) {
		require.NoError(t, e.sandbox.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatapi", WebhookURL: hook, DelayMS: 50, Final: "delivered"}))
		id, text := page("link", "")
		link := regexp.MustCompile(`https?://\S+/signal/\S+`).FindString(text)
		require.NotEmpty(t, link, "the page carries the acknowledge link: %s", text)
		e.eventually(30*time.Second, "the run waits", func() bool { return e.showRun(id).Status == "waiting" })
		until := regexp.MustCompile(`until (\S+)$`).FindStringSubmatch(e.showRun(id).Reason)
		require.Len(t, until, 2, "the waiting run says until when: %s", e.showRun(id).Reason)
		deadline, err := time.Parse(time.RFC3339, until[1])
		require.NoError(t, err)
		require.Greater(t, time.Until(deadline), 90*time.Second, "without ack_timeout the page waits the default 2 minutes")
		resp, err := http.Get(link)
		require.NoError(t, err)
		confirm, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, string(confirm), "Confirm")
		require.Equal(t, "waiting", e.showRun(id).Status, "opening the link (a chat app's preview) acknowledges nothing")
		resp, err = http.Post(link, "application/x-www-form-urlencoded", nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		steps := finished(id)
		require.Equal(t, "ack", steps["ack"]["output"].(map[string]any)["signal"])
		require.Equal(t, "skipped", steps["escalate"]["status"])
		require.Equal(t, "skipped", steps["ticket"]["status"])
		e.eventually(10*time.Second, "the page's receipts were recorded", func() bool {
			d := e.showRun(id).Steps[0].Delivery
			return d != nil && d.Status == "delivered"
		})
		require.Zero(t, escalations())
	})

	t.Run("nothing", func(t *testing.T) {
		require.NoError(t, e.sandbox.SetReceiptPlan(sandbox.ReceiptPlan{Provider: "chatapi"}))
		cwBefore := len(e.sandbox.Requests("chatwoot"))
		start := time.Now()
		id, _ := page("silence", escalationTimeout)
		steps := finished(id)
		require.GreaterOrEqual(t, time.Since(start), 10*time.Second, "the escalation waits out the timeout")
		require.Contains(t, string(e.sandbox.Requests("chatwoot")[len(e.sandbox.Requests("chatwoot"))-1].Body), "within "+escalationTimeout, "the ticket says how long the page waited")
		require.Equal(t, true, steps["ack"]["output"].(map[string]any)["timed_out"])
		require.Equal(t, false, steps["ack"]["output"].(map[string]any)["matched"])
		require.Equal(t, "succeeded", steps["escalate"]["status"])
		require.Equal(t, "succeeded", steps["ticket"]["status"])
		require.Equal(t, 1, escalations())
		require.Contains(t, string(e.sandbox.Requests("chitchatlabs")[0].Body), "oncall_escalation")
		require.Greater(t, len(e.sandbox.Requests("chatwoot")), cwBefore, "a Chatwoot conversation was opened")
		require.Nil(t, e.showRun(id).Steps[0].Delivery, "no receipt came")
	})
	require.Equal(t, 0, e.stop())
}
