package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/store"
)

// CronState returns the stored state of one cron trigger.
func (s *Store) CronState(ctx context.Context, workflow, trigger string) (store.CronState, error) {
	var last, next sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT last_fire, next_fire FROM cron_state
		WHERE workflow = ? AND trigger_key = ?`, workflow, trigger).Scan(&last, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return store.CronState{}, fmt.Errorf("cron state of %s trigger %s: %w", workflow, trigger, store.ErrNotFound)
	}
	if err != nil {
		return store.CronState{}, fmt.Errorf("cron state of %s trigger %s: %w", workflow, trigger, classify(err))
	}
	st := store.CronState{Workflow: workflow, Trigger: trigger}
	if st.Last, err = decodeTime(last); err != nil {
		return store.CronState{}, err
	}
	if st.Next, err = decodeTime(next); err != nil {
		return store.CronState{}, err
	}
	return st, nil
}

// SetCronState stores the state of one cron trigger.
func (s *Store) SetCronState(ctx context.Context, state store.CronState) error {
	if err := state.Validate(); err != nil {
		return fmt.Errorf("set cron state: %w", err)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cron_state (workflow, trigger_key, last_fire, next_fire)
			VALUES (?, ?, ?, ?) ON CONFLICT (workflow, trigger_key) DO UPDATE
			SET last_fire = excluded.last_fire, next_fire = excluded.next_fire`,
			state.Workflow, state.Trigger, encodeTime(state.Last), encodeTime(state.Next))
		return err
	})
	if err != nil {
		return fmt.Errorf("set cron state of %s trigger %s: %w", state.Workflow, state.Trigger, err)
	}
	return nil
}
