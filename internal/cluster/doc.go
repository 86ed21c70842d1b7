// Package cluster runs Herald on PostgreSQL with River as the distributed job
// engine, so several `herald serve` processes sharing one store share its
// work. It owns the scale-out mechanics and nothing else:
//
//   - Enqueueing. Store wraps the PostgreSQL store so that every run it creates
//     is inserted together with its River job, in one transaction: a run
//     exists exactly when its job does, and an idempotency key that finds an
//     existing run inserts neither.
//   - Execution. A River worker executes a run in slices of Options.Slice: it
//     lets the engine checkpoint at the end of each slice and snoozes the job,
//     so no job runs longer than its lease and River's rescue of stuck jobs
//     (a replica that died) never fires for a live run. A rescued job is
//     resumed by any replica from the run's last completed step.
//   - Eager start. The replica that admits an eligible run may execute it at
//     once (StartEager): its job is inserted held back, due only when the
//     run's lease is over, and the run's ending transaction deletes it; a
//     slice that does not end the run hands the job back to River. When no
//     worker is free, the run is created queued with its held job and
//     waits in memory for the next free worker (overflow), a bounded
//     queue beyond which runs go through River.
//   - Leadership. River's leader election decides which replica fires cron
//     triggers (IsLeader); the fire's idempotency key is the second guard.
//   - Limits. A workflow's concurrency limit is claimed in PostgreSQL when a
//     run starts (pgstore.StartWithin), and provider rate limits are one
//     budget in PostgreSQL shared by every replica (RateLimiter).
//   - Admission. Admit bounds the runs waiting in the queue across the
//     cluster, so triggers arriving faster than the replicas execute are
//     refused rather than queued without bound.
//   - Migrations. River's tables live in the store's schema, migrated beside
//     Herald's (Migrate).
//
// It must not decide what a run does (internal/engine), when a cron trigger
// fires (internal/scheduler) or how runs are stored (internal/store); it only
// moves runs between processes.
package cluster
