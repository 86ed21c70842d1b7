package httpapi_test

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is Linux's CLOCK_THREAD_CPUTIME_ID: the CPU time of
// the calling thread, to the nanosecond (getrusage's thread times move in
// scheduler ticks).
const clockThreadCPUTime = 3

// threadTime reads the calling thread's CPU time.
func threadTime() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// threadCPU runs fn on one OS thread and returns the CPU time that thread
// spent, which a machine loaded many times its cores does not stretch as
// it does the wall-clock time; ok is false when it cannot be read.
func threadCPU(fn func()) (d time.Duration, ok bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := threadTime()
	fn()
	if !ok {
		return 0, false
	}
	after, ok := threadTime()
	return after - before, ok
}
