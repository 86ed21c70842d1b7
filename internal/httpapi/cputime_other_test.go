//go:build !linux

package httpapi_test

import "time"

// threadCPU runs fn; the thread's CPU time is read on Linux only.
func threadCPU(fn func()) (time.Duration, bool) {
	fn()
	return 0, false
}
