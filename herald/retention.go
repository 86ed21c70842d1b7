package herald

import (
	"time"

	"github.com/heraldhq/herald/internal/retention"
)

// DefaultRetention is how long finished runs are kept when
// Options.Retention is zero: 30 days, as for `herald serve`.
const DefaultRetention = retention.Default

// KeepAllRuns, as Options.Retention, turns the retention off: every run is
// kept, as with HERALD_RETENTION=0 for `herald serve`.
const KeepAllRuns time.Duration = -1

// retention returns the retention Serve prunes with: zero keeps every run.
func (o *Options) retention() time.Duration {
	switch {
	case o.Retention == 0:
		return DefaultRetention
	case o.Retention < 0:
		return 0
	}
	return o.Retention
}
