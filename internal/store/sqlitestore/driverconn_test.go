package sqlitestore

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// valuer is an argument that gives its own value, as a driver.Valuer.
type valuer struct{ s string }

func (v valuer) Value() (driver.Value, error) { return "v:" + v.s, nil }

// TestDriverValueIsDatabaseSQLs checks the writer's argument conversion
// against the one database/sql applies (its default converter): the types
// the writer binds pass as they are, an int becomes an int64, a named type
// its underlying value, a Valuer its value, and a type the driver cannot
// take is an error.
func TestDriverValueIsDatabaseSQLs(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, "text", "", int64(-1 << 40), true, false, 1.5, []byte("b"), []byte(nil),
		-1, 0, 7, 1 << 40, int32(-5), uint16(9), store.StatusRunning, valuer{"x"}, time.Unix(1, 2)} {
		want, wantErr := driver.DefaultParameterConverter.ConvertValue(v)
		got, err := driverValue(v)
		require.NoError(t, wantErr, "%T", v)
		require.NoError(t, err, "%T", v)
		require.Equal(t, want, got, "%T %v", v, v)
	}
	for _, v := range []any{struct{}{}, map[string]int{}, []int{1}} {
		_, err := driverValue(v)
		require.Error(t, err, "%T", v)
	}
}

// TestWriteStoresTextAndReportsConversionErrors writes through the driver
// connection: the JSON and time columns are stored as TEXT (not BLOB), an
// argument the driver cannot take fails its write alone, and the statements
// of the writer and database/sql's queries on the same connection see the
// same transaction.
func TestWriteStoresTextAndReportsConversionErrors(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	trigger := json.RawMessage(`{"kind":"webhook","body":{"a":1}}`)
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, Trigger: trigger,
		Inputs: json.RawMessage(`{"to":"x"}`), CreatedAt: time.Now()}
	_, _, err := s.CreateRun(ctx, run, "key-1", time.Hour)
	require.NoError(t, err)
	// The caller's bytes may change once the write has returned.
	copy(trigger, `{"kind":"changed!"`)

	var trigType, inputsType, createdType, stored string
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT typeof(trigger_json), typeof(inputs_json),
		typeof(created_at), trigger_json FROM runs WHERE id = ?`, run.ID).Scan(&trigType, &inputsType, &createdType, &stored))
	require.Equal(t, []string{"text", "text", "text"}, []string{trigType, inputsType, createdType})
	require.Equal(t, `{"kind":"webhook","body":{"a":1}}`, stored)

	bad := errors.New("unreachable")
	err = s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET reason = ? WHERE id = ?`, struct{}{}, run.ID); err != nil {
			return err
		}
		return bad
	})
	require.ErrorContains(t, err, "converting argument $1")
	require.NotErrorIs(t, err, bad)

	require.NoError(t, s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET reason = ? WHERE id = ?`, "seen", run.ID); err != nil {
			return err
		}
		var reason string
		if err := tx.QueryRowContext(ctx, `SELECT reason FROM runs WHERE id = ?`, run.ID).Scan(&reason); err != nil {
			return err
		}
		require.Equal(t, "seen", reason)
		return nil
	}))
}
