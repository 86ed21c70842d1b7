package console_test

import (
	"context"
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/store"
)

// TestRunPageShowsDeliveryReceipts checks that the run page shows the
// delivery status of a step's message and of each for_each item's.
func TestRunPageShowsDeliveryReceipts(t *testing.T) {
	t.Parallel()
	f := setup(t, console.Options{})
	ctx := context.Background()
	start := f.now.Add(-time.Minute)
	index := func(id, step string, item int, msg, status string) {
		require.NoError(t, f.b.st.IndexMessage(ctx, store.Delivery{StepKey: store.StepKey{RunID: id, StepID: step, Item: item}, Provider: "chatapi", MessageID: msg, Event: "chatapi.ack"}))
		if status != "" {
			_, _, err := f.b.st.RecordReceipt(ctx, "chatapi", msg, "chatapi.ack", store.Receipt{Status: status, At: start.Add(time.Second), Data: json.RawMessage(`{"status":"viewed"}`)})
			require.NoError(t, err)
		}
	}
	id := f.addRun(t, store.StatusSucceeded, `{"kind":"manual"}`, func(id string) {
		f.attempt(t, id, "notify", 1, "chatapi", store.StatusSucceeded, false, `{"sent":true,"id":"m-page"}`, nil)
		require.NoError(t, f.b.st.RecordStep(ctx, store.StepRecord{StepKey: store.StepKey{RunID: id, StepID: "each", Item: store.NoItem},
			Status: store.StatusSucceeded, Total: 2, StartedAt: start, FinishedAt: start}))
		for i := range 2 {
			require.NoError(t, f.b.st.RecordStep(ctx, store.StepRecord{StepKey: store.StepKey{RunID: id, StepID: "each", Item: i},
				Status: store.StatusSucceeded, Attempts: 1, Provider: "chatapi", StartedAt: start, FinishedAt: start}))
		}
		index(id, "notify", store.NoItem, "m-page", "read")
		index(id, "each", 0, "m-0", "")
		index(id, "each", 1, "m-1", "delivered")
	}, "")
	body := html.UnescapeString(f.client(t).get("/ui/runs/" + id).Body.String())
	require.Contains(t, body, "Delivery: ")
	require.Regexp(t, `Delivery: [\s\S]{0,200}read`, body)
	require.NotContains(t, row(t, body, "item-0"), "delivered", "item 0 has no receipt")
	require.Contains(t, row(t, body, "item-1"), "delivered")
}

// row returns the table row with the given id.
func row(t *testing.T, body, id string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `<tr id="`+id+`">`)
	require.True(t, ok, "no row %s", id)
	r, _, _ := strings.Cut(rest, "</tr>")
	return r
}
