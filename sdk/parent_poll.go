//go:build !linux || mips || mipsle || mips64 || mips64le

package sdk

import "time"

// waitParent returns once the process's parent, ppid, is gone, checking
// the parent pid every interval.
func waitParent(ppid int, every time.Duration) {
	pollParent(ppid, every)
}
