package store

import (
	"fmt"
	"time"
)

// CronState is the scheduler's memory of one cron trigger, so fires missed
// while no host ran can be caught up and none fires twice.
type CronState struct {
	// Workflow is the workflow that declares the trigger.
	Workflow string
	// Trigger identifies the trigger within the workflow, such as its index
	// or its schedule.
	Trigger string
	// Last is the scheduled time of the latest fire; zero before the first.
	Last time.Time
	// Next is the scheduled time of the next fire.
	Next time.Time
}

// Validate reports an ErrInvalid error when c cannot be stored.
func (c CronState) Validate() error {
	switch {
	case c.Workflow == "":
		return fmt.Errorf("%w: cron state: workflow is empty", ErrInvalid)
	case c.Trigger == "":
		return fmt.Errorf("%w: cron state: trigger is empty", ErrInvalid)
	}
	return nil
}
