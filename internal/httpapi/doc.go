// Package httpapi serves Herald's HTTP API: webhook triggers, provider
// webhooks, the manual-trigger and run/workflow endpoints, health, readiness
// and metrics. It authenticates, limits and validates requests, then hands
// them to a Runtime; it never executes runs or touches plugins itself.
package httpapi
