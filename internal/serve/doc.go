// Package serve is the long-running Herald host behind `herald serve`: it
// turns triggers (cron fires, webhooks, provider events, API calls) into runs,
// executes them on a bounded worker pool under each workflow's concurrency
// limit, resumes unfinished runs on start, reloads the project when it
// changes, and shuts down without losing work.
//
// It owns dispatch and lifecycle only: loading is internal/host's and
// internal/config's, execution internal/engine's, timing internal/scheduler's
// and HTTP internal/httpapi's.
package serve
