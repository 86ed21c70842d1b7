// Package serve is the long-running Herald host behind `herald serve`: it
// turns triggers (cron fires, webhooks, provider events, API calls) into runs,
// executes them under each workflow's concurrency limit, resumes unfinished
// runs on start, reloads the project when it changes, and shuts down without
// losing work.
//
// Runs are executed by a runner, chosen by the store. On SQLite (one host)
// the localRunner executes them on a bounded in-process worker pool. On
// PostgreSQL the host is one replica of a cluster: the clusterRunner hands
// runs to River through internal/cluster, every replica executes them, and
// the scheduler fires cron triggers only while River elects this replica
// leader. Triggers, cron fires, reloads and shutdown work the same way in
// both.
//
// It owns dispatch and lifecycle only: loading is internal/host's and
// internal/config's, execution internal/engine's, timing internal/scheduler's,
// distribution internal/cluster's and HTTP internal/httpapi's.
package serve
