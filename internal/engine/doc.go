// Package engine executes workflow runs durably: it creates run records,
// evaluates conditions, renders step inputs, calls provider actions through
// sdk.Client with retries, timeouts, fallbacks, for_each fan-out and per
// instance rate limits, and records every attempt's start and result in the
// store before it moves on. An interrupted run resumes from its last
// completed step; a step whose success was recorded is never sent again.
//
// The engine does not load projects, launch plugins, schedule cron fires or
// serve HTTP: it is handed a loaded config.Project, a way to reach provider
// clients and a store.Store. Data flows one way, from the project through the
// engine into the store.
package engine
