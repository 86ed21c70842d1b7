//go:build !unix

package sdk

import "time"

// processCPU reports that this platform gives no CPU time of the process:
// the processor governor does not run.
func processCPU() (time.Duration, bool) { return 0, false }
