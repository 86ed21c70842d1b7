package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// CronState returns the stored state of one cron trigger.
func (s *Store) CronState(ctx context.Context, workflow, trigger string) (store.CronState, error) {
	var last, next pgtype.Timestamptz
	err := s.queryRow(ctx, `SELECT last_fire, next_fire FROM {schema}.cron_state
		WHERE workflow = $1 AND trigger_key = $2`, workflow, trigger).Scan(&last, &next)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.CronState{}, fmt.Errorf("cron state of %s trigger %s: %w", workflow, trigger, store.ErrNotFound)
	}
	if err != nil {
		return store.CronState{}, fmt.Errorf("cron state of %s trigger %s: %w", workflow, trigger, err)
	}
	return store.CronState{Workflow: workflow, Trigger: trigger, Last: decodeTime(last), Next: decodeTime(next)}, nil
}

// SetCronState stores the state of one cron trigger.
func (s *Store) SetCronState(ctx context.Context, state store.CronState) error {
	if err := state.Validate(); err != nil {
		return fmt.Errorf("set cron state: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO {schema}.cron_state (workflow, trigger_key, last_fire, next_fire)
		VALUES ($1, $2, $3, $4) ON CONFLICT (workflow, trigger_key) DO UPDATE
		SET last_fire = excluded.last_fire, next_fire = excluded.next_fire`,
		state.Workflow, state.Trigger, encodeTime(state.Last), encodeTime(state.Next))
	if err != nil {
		return fmt.Errorf("set cron state of %s trigger %s: %w", state.Workflow, state.Trigger, err)
	}
	return nil
}
