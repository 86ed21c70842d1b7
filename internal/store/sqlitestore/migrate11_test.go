package sqlitestore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestMigrate0011KeepsEveryDelivery writes a schema 0010 file with delivery
// index rows of every shape (a message with no receipt, with a receipt and
// its event data, for_each items' messages, a message of a step that has no
// record, and two messages of one step) beside runs in flight whose first
// attempts are in doubt; opens it (which applies 0011: the message columns
// of step_records and their index) and checks that every row reads back as
// it was, that RunDeliveries returns each run's messages as before, and that
// the migrated messages are live: a receipt raises a status, a finish that
// names a migrated message again keeps it where it is with its status, a
// finish with a new message keeps it in the record's row, and pruning takes
// both.
func TestMigrate0011KeepsEveryDelivery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v10.db")
	ms, old, exec := oldSchemaFile(t, path, 10)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	runID := func(i int) string { return fmt.Sprintf("01RUN%021d", i) }
	type row struct {
		key              store.StepKey
		msg, status      string
		at, data         any
		wantAt, wantData string
	}
	var rows []row
	deliver := func(key store.StepKey, msg, status string) {
		r := row{key: key, msg: msg, status: status}
		if status != "" {
			r.wantAt = encodeTime(start.Add(time.Hour)).(string)
			r.wantData = fmt.Sprintf(`{"id":%q,"status":%q}`, msg, status)
			r.at, r.data = r.wantAt, r.wantData
		}
		exec(`INSERT INTO deliveries (provider, message_id, event, run_id, step_id, item, status, at, event_json)
			VALUES ('chatapi', ?, 'chatapi.ack', ?, ?, ?, ?, ?, ?)`,
			msg, key.RunID, key.StepID, key.Item, status, r.at, r.data)
		rows = append(rows, r)
	}
	for i := range 20 {
		id := runID(i)
		at := encodeTime(start.Add(time.Duration(i) * time.Minute)).(string)
		status, finished := "succeeded", any(at)
		if i%4 == 3 {
			status, finished = "running", nil
		}
		exec(`INSERT INTO runs (id, workflow, status, attempt, owner, trigger_kind, created_at, started_at, finished_at)
			VALUES (?, 'support', ?, 1, 'host-a', 'webhook', ?, ?, ?)`, id, status, at, at, finished)
		notify := store.StepKey{RunID: id, StepID: "notify", Item: store.NoItem}
		exec(`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, started_at, finished_at,
			first_provider, first_action, first_status, first_started_at, first_finished_at)
			VALUES (?, 'notify', -1, ?, 1, 'chatapi', ?, ?, 'chatapi', 'send_message', ?, ?, ?)`,
			id, status, at, finished, status, at, finished)
		switch i % 4 {
		case 0: // no receipt yet
			deliver(notify, fmt.Sprintf("m%d", i), "")
		case 1: // a receipt, and a for_each's items
			deliver(notify, fmt.Sprintf("m%d", i), "delivered")
			for item := range 3 {
				deliver(store.StepKey{RunID: id, StepID: "each", Item: item}, fmt.Sprintf("m%d-%d", i, item), "")
			}
		case 2: // a step without a record, and two messages of one step
			deliver(store.StepKey{RunID: id, StepID: "page", Item: store.NoItem}, fmt.Sprintf("m%d", i), "read")
			deliver(notify, fmt.Sprintf("m%d-a", i), "sent")
			deliver(notify, fmt.Sprintf("m%d-b", i), "failed")
		case 3: // in doubt, its message indexed already
			deliver(notify, fmt.Sprintf("m%d", i), "sent")
		}
	}
	s := openMigrated(t, old, path, ms) // every row reads back as it was

	var bound int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM step_records
		WHERE msg_id IS NOT NULL OR msg_provider IS NOT NULL OR msg_status <> ''`).Scan(&bound))
	require.Zero(t, bound, "no record holds a message yet")
	byRun := map[string][]row{}
	for _, r := range rows {
		byRun[r.key.RunID] = append(byRun[r.key.RunID], r)
	}
	for i := range 20 {
		got, err := s.RunDeliveries(ctx, runID(i))
		require.NoError(t, err)
		want := byRun[runID(i)]
		// RunDeliveries orders by step id, item and message id.
		slices.SortFunc(want, func(a, b row) int {
			return cmp.Or(cmp.Compare(a.key.StepID, b.key.StepID), cmp.Compare(a.key.Item, b.key.Item),
				cmp.Compare(a.msg, b.msg))
		})
		require.Len(t, got, len(want), "run %d", i)
		for j, d := range got {
			w := want[j]
			require.Equal(t, w.key, d.StepKey, "run %d", i)
			require.Equal(t, "chatapi", d.Provider)
			require.Equal(t, w.msg, d.MessageID)
			require.Equal(t, "chatapi.ack", d.Event)
			require.Equal(t, w.status, d.Status)
			if w.wantAt == "" {
				require.True(t, d.At.IsZero())
				require.Nil(t, d.Data)
			} else {
				require.Equal(t, w.wantAt, encodeTime(d.At))
				require.JSONEq(t, w.wantData, string(d.Data))
			}
		}
	}

	// A receipt raises a migrated message's status.
	now := start.Add(2 * time.Hour)
	d, changed, err := s.RecordReceipt(ctx, "chatapi", "m0", "chatapi.ack", store.Receipt{Status: "read", At: now})
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "read", d.Status)

	// The attempts in doubt finish: run 3 names its migrated message again
	// (it stays in deliveries, with its status), run 7 a new one (in the
	// record's row).
	end := func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, now
		return nil
	}
	success := store.AttemptResult{Status: store.StatusSucceeded, Output: json.RawMessage(`{"id":"x"}`), FinishedAt: now}
	k3 := store.StepKey{RunID: runID(3), StepID: "notify", Item: store.NoItem}
	_, err = s.FinishAttemptRun(ctx, k3, 1, success, []store.Delivery{{StepKey: k3, Provider: "chatapi", MessageID: "m3",
		Event: "chatapi.ack"}}, end)
	require.NoError(t, err)
	key, place := messagePlace(t, s, "chatapi", "m3")
	require.Equal(t, k3, key)
	require.Equal(t, "table", place)
	got, err := s.RunDeliveries(ctx, runID(3))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "sent", got[0].Status)

	k7 := store.StepKey{RunID: runID(7), StepID: "notify", Item: store.NoItem}
	_, err = s.FinishAttemptRun(ctx, k7, 1, success, []store.Delivery{{StepKey: k7, Provider: "chatapi", MessageID: "new-7",
		Event: "chatapi.ack"}}, end)
	require.NoError(t, err)
	key, place = messagePlace(t, s, "chatapi", "new-7")
	require.Equal(t, k7, key)
	require.Equal(t, "record", place)
	got, err = s.RunDeliveries(ctx, runID(7))
	require.NoError(t, err)
	require.Equal(t, []string{"m7", "new-7"}, []string{got[0].MessageID, got[1].MessageID})

	// Pruning takes every run's messages, in either place.
	n, err := s.PruneRuns(ctx, start.Add(3*time.Hour), 1000)
	require.NoError(t, err)
	require.EqualValues(t, 17, n, "all but runs 11, 15 and 19, still running")
	var left int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM deliveries)
		+ (SELECT COUNT(*) FROM step_records WHERE msg_id IS NOT NULL)`).Scan(&left))
	require.Equal(t, 3, left, "the three running runs' messages")
}
