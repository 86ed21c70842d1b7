-- Fewer pages and index entries written per run (issue 16).
--
-- The runs indexes of 0003 were descending, (created_at DESC, id DESC):
-- a new run's entry went to the left edge of each, where SQLite's B-tree
-- balances a full leaf with its siblings, rewriting three leaves and
-- their parent, rather than starting a new leaf as at the right edge. They
-- are ascending again; a newest-first page scans them backwards, as
-- cheaply.
--
-- A run's status changes two or three times (queued, running, then its
-- end), and each change moved its entries in runs_status_created and
-- runs_workflow_status_created, two indexes over the whole history. Their
-- successors hold only the runs out of queued and running (a run enters
-- them once, when it ends or waits); runs_unfinished, small, holds the
-- queued and running ones. A query by status names the condition of the
-- index it needs (SQLite uses a partial index only then); see ListRuns.

DROP INDEX runs_created;
DROP INDEX runs_workflow_created;
DROP INDEX runs_status_created;
DROP INDEX runs_kind_created;
DROP INDEX runs_workflow_status_created;
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at, id);
CREATE INDEX runs_kind_created ON runs (trigger_kind, created_at, id);
CREATE INDEX runs_settled_created ON runs (status, created_at, id)
    WHERE status NOT IN ('queued', 'running');
CREATE INDEX runs_workflow_settled_created ON runs (workflow, status, created_at, id)
    WHERE status NOT IN ('queued', 'running');
CREATE INDEX runs_unfinished ON runs (status, created_at, id)
    WHERE status IN ('queued', 'running');

-- idempotency_keys and deliveries are looked up by their primary key only:
-- as WITHOUT ROWID tables the row lives in the key's B-tree, so a new row
-- is one B-tree insert instead of two (the table's and its key's index).
-- Rebuilt the way 0003 rebuilt its tables.

CREATE TABLE idempotency_keys_new (
    key         TEXT NOT NULL PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    expires_at  TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO idempotency_keys_new (key, run_id, expires_at, fingerprint)
    SELECT key, run_id, expires_at, fingerprint FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);

CREATE TABLE deliveries_new (
    provider   TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    event      TEXT    NOT NULL,
    run_id     TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id    TEXT    NOT NULL,
    item       INTEGER NOT NULL CHECK (item >= -1),
    -- status is '' until a receipt arrives.
    status     TEXT    NOT NULL DEFAULT '' CHECK (status IN ('', 'sent', 'failed', 'delivered', 'read')),
    at         TEXT,
    event_json TEXT,
    PRIMARY KEY (provider, message_id)
) WITHOUT ROWID;
INSERT INTO deliveries_new (provider, message_id, event, run_id, step_id, item, status, at, event_json)
    SELECT provider, message_id, event, run_id, step_id, item, status, at, event_json FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_run ON deliveries (run_id);
