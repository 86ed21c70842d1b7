package console

import (
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// applyRunFilter adds the trigger kind and creation-time bounds of q to f.
func applyRunFilter(f *store.RunFilter, q runsQuery) error {
	f.TriggerKind = q.Trigger
	if q.Since != "" {
		t, err := parseFilterTime(q.Since)
		if err != nil {
			return fmt.Errorf("since: %w", err)
		}
		f.Since = t
	}
	if q.Until != "" {
		t, err := parseFilterTime(q.Until)
		if err != nil {
			return fmt.Errorf("until: %w", err)
		}
		f.Until = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return errors.New("since must be before until")
	}
	return nil
}

// runReason is the one line saying why run ended as it did.
func runReason(run store.Run) string {
	if run.Reason != "" {
		return run.Reason
	}
	return run.Error
}

// isRunState reports an operation the run's status does not allow.
func isRunState(err error) bool { return errors.Is(err, engine.ErrRunState) }

// runStatusActions sets the actions the run's status allows, as the
// store's rules say.
func (c *Console) runStatusActions(d *runData) {
	s := store.Status(d.Run.Status)
	d.CanCancel = s.Cancelable()
	d.CanRetry = s.Retryable()
	d.CanSignal = s == store.StatusWaiting
	d.CanResolve = s == store.StatusNeedsAttention
}
