package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHeapProfilingOnlyWithAPprofAddress changes a process-wide setting, so
// it does not run in parallel and restores what it found.
func TestHeapProfilingOnlyWithAPprofAddress(t *testing.T) {
	rate := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = rate }()

	runtime.MemProfileRate = 512 * 1024
	applyRuntimeSettings("127.0.0.1:6060")
	require.Equal(t, 512*1024, runtime.MemProfileRate, "pprof is served: heap profiles stay on")
	applyRuntimeSettings("")
	require.Zero(t, runtime.MemProfileRate, "no pprof address: no heap profile sampling")
}
