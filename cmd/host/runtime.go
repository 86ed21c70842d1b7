package main

import "runtime"

// applyRuntimeSettings sets the Go runtime's process-wide settings of
// herald serve. Heap profile sampling is off unless a pprof address is set
// (HERALD_PPROF_ADDR), the only way to read the profile: sampling would
// otherwise keep a table of call stacks (1.4 MB of address space, a page
// touched per distinct stack) and cost each sampled allocation a stack walk,
// for nobody.
func applyRuntimeSettings(pprofAddr string) {
	if pprofAddr == "" {
		runtime.MemProfileRate = 0
	}
}
