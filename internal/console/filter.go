package console

import (
	"errors"

	"github.com/heraldhq/herald/internal/store"
)

// applyRunFilter adds the trigger kind and time bounds of q to f.
func applyRunFilter(f *store.RunFilter, q runsQuery) error {
	if q.Trigger != "" || q.Since != "" || q.Until != "" {
		return errors.New("this store cannot filter runs by trigger kind or time yet")
	}
	return nil
}

// runReason is the one line saying why run ended as it did.
func runReason(run store.Run) string { return run.Error }

// isRunState reports an operation the run's status does not allow.
func isRunState(error) bool { return false }

// runStatusActions adds the actions of the statuses this store knows of
// beyond queued, running and failed.
func (c *Console) runStatusActions(*runData) {}
