package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

// CreateRunTx is CreateRun inside a transaction the caller owns, so other
// writes commit or roll back with the run: the scale-out host enqueues the
// run's River job in the same transaction. It follows CreateRun's rules; on
// an error the caller must roll tx back, as the run and its key may be half
// written. tx must be on a connection to the store's database.
func (s *Store) CreateRunTx(ctx context.Context, tx pgx.Tx, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	if s.closed.Load() {
		return store.Run{}, false, errClosed
	}
	run = normRun(run)
	if err := run.Validate(); err != nil {
		return store.Run{}, false, fmt.Errorf("create run: %w", err)
	}
	if err := store.ValidateIdempotencyKey(idemKey, ttl); err != nil {
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, err)
	}
	fingerprint := run.RequestFingerprint
	run.RequestFingerprint = "" // kept with the key, not the run
	if idemKey == "" {
		tag, err := tx.Exec(ctx, s.sql(insertRun), insertRunArgs(run)...)
		if err != nil {
			return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, classify(err))
		}
		if tag.RowsAffected() == 0 {
			return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, errTaken)
		}
		return run, false, nil
	}
	existing, existed, err := s.createKeyedRun(ctx, tx, run, fingerprint, idemKey, ttl)
	switch {
	case err != nil:
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, classify(err))
	case existed:
		return existing, true, nil
	}
	return run, false, nil
}

// createKeyedRun claims idemKey for run, with the request fingerprint, and
// inserts run in tx, or returns the run the key is bound to with existed set,
// or ErrIdempotencyKeyReused when the key's fingerprint differs. run must be
// normalised and valid. The key is claimed before the run is inserted (its
// foreign key is deferred), so a racer that loses never inserts a run. An
// error leaves tx to be rolled back.
func (s *Store) createKeyedRun(ctx context.Context, tx pgx.Tx, run store.Run, fingerprint, idemKey string, ttl time.Duration) (existing store.Run, existed bool, err error) {
	var claimed bool
	err = tx.QueryRow(ctx, s.sql(claimKey), idemKey, run.ID, normTime(run.CreatedAt.Add(ttl)), run.CreatedAt, fingerprint).Scan(&claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		var stored string
		existing, _, err = scanRun(extraColumn{tx.QueryRow(ctx, s.sql(`SELECT `+runColumns+`, k.fingerprint FROM {schema}.runs r
			JOIN {schema}.idempotency_keys k ON k.run_id = r.id WHERE k.key = $1`), idemKey), &stored})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return store.Run{}, false, fmt.Errorf("idempotency key names no run: %w", store.ErrNotFound)
		case err != nil:
			return store.Run{}, false, err
		case fingerprint != "" && stored != "" && fingerprint != stored:
			return store.Run{}, false, store.ErrIdempotencyKeyReused
		}
		return existing, true, nil
	}
	if err != nil {
		return store.Run{}, false, err
	}
	tag, err := tx.Exec(ctx, s.sql(insertRun), insertRunArgs(run)...)
	if err != nil {
		return store.Run{}, false, err
	}
	if tag.RowsAffected() == 0 {
		return store.Run{}, false, errTaken
	}
	return store.Run{}, false, nil
}

// extraColumn is a row of runColumns followed by one more column, scanned
// into dest.
type extraColumn struct {
	row  pgx.Row
	dest any
}

// Scan scans the run's columns into dest and the extra column into c.dest.
func (c extraColumn) Scan(dest ...any) error {
	return c.row.Scan(append(dest, c.dest)...)
}
