-- Run history (SPEC §8): run reason, trigger kind, owner heartbeat and cancel
-- requests; step reason and for_each total; each attempt's action, outcome,
-- retry-after and masked request/response; the operators' log; statuses
-- canceled, waiting and needs_attention; newest-first indexes for the
-- console's keyset pages.
--
-- SQLite cannot change a CHECK constraint in place, so runs, step_records
-- and step_attempts are rebuilt the way SQLite documents (migrate runs this
-- with foreign keys off): create the new table, copy the rows, drop the old
-- one, rename the new one into place, recreate its indexes. Children keep
-- referring to the table by name, so nothing else changes.

CREATE TABLE runs_new (
    id               TEXT    PRIMARY KEY,
    workflow         TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'waiting', 'needs_attention',
                                                        'succeeded', 'failed', 'skipped', 'canceled')),
    trigger_json     TEXT,
    inputs_json      TEXT,
    attempt          INTEGER NOT NULL DEFAULT 0,
    owner            TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    reason           TEXT    NOT NULL DEFAULT '',
    trigger_kind     TEXT    NOT NULL DEFAULT '',
    heartbeat_at     TEXT,
    cancel_requested TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    -- version counts updates, for optimistic concurrency in UpdateRun.
    version          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO runs_new (id, workflow, status, trigger_json, inputs_json, attempt, owner, error, trigger_kind,
                      created_at, started_at, finished_at, version)
    SELECT id, workflow, status, trigger_json, inputs_json, attempt, owner, error,
           COALESCE(json_extract(trigger_json, '$.kind'), ''), created_at, started_at, finished_at, version
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at DESC, id DESC);
CREATE INDEX runs_status_created ON runs (status, created_at DESC, id DESC);
CREATE INDEX runs_kind_created ON runs (trigger_kind, created_at DESC, id DESC);
CREATE INDEX runs_workflow_status_created ON runs (workflow, status, created_at DESC, id DESC);
CREATE INDEX runs_running_owner ON runs (owner) WHERE status = 'running';

CREATE TABLE step_records_new (
    -- seq orders records by creation.
    seq           INTEGER PRIMARY KEY,
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id       TEXT    NOT NULL,
    item          INTEGER NOT NULL CHECK (item >= -1),
    status        TEXT    NOT NULL CHECK (status IN ('running', 'waiting', 'needs_attention',
                                                     'succeeded', 'failed', 'skipped', 'canceled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    provider      TEXT    NOT NULL DEFAULT '',
    output_json   TEXT,
    -- error_class is NULL when the record has no error.
    error_class   TEXT,
    error_message TEXT,
    error_field   TEXT,
    reason        TEXT    NOT NULL DEFAULT '',
    total         INTEGER NOT NULL DEFAULT 0,
    started_at    TEXT,
    finished_at   TEXT,
    UNIQUE (run_id, step_id, item)
);
INSERT INTO step_records_new (seq, run_id, step_id, item, status, attempts, provider, output_json,
                              error_class, error_message, error_field, started_at, finished_at)
    SELECT seq, run_id, step_id, item, status, attempts, provider, output_json,
           error_class, error_message, error_field, started_at, finished_at
    FROM step_records;
DROP TABLE step_records;
ALTER TABLE step_records_new RENAME TO step_records;

CREATE TABLE step_attempts_new (
    run_id         TEXT    NOT NULL,
    step_id        TEXT    NOT NULL,
    item           INTEGER NOT NULL,
    attempt        INTEGER NOT NULL CHECK (attempt >= 1),
    provider       TEXT    NOT NULL DEFAULT '',
    action         TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'canceled')),
    outcome        TEXT    NOT NULL DEFAULT '',
    error_class    TEXT,
    error_message  TEXT,
    error_field    TEXT,
    retry_after_ms INTEGER NOT NULL DEFAULT 0,
    request_json   TEXT,
    response_json  TEXT,
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    PRIMARY KEY (run_id, step_id, item, attempt),
    FOREIGN KEY (run_id, step_id, item) REFERENCES step_records (run_id, step_id, item) ON DELETE CASCADE
);
INSERT INTO step_attempts_new (run_id, step_id, item, attempt, provider, status, outcome,
                               error_class, error_message, error_field, started_at, finished_at)
    SELECT run_id, step_id, item, attempt, provider, status,
           CASE WHEN status = 'running' THEN ''
                WHEN status IN ('succeeded', 'skipped') THEN 'succeeded'
                WHEN error_class IN ('retryable', 'permanent', 'rate_limited') THEN error_class
                ELSE 'retryable' END,
           error_class, error_message, error_field, started_at, finished_at
    FROM step_attempts;
DROP TABLE step_attempts;
ALTER TABLE step_attempts_new RENAME TO step_attempts;

CREATE TABLE run_operations (
    seq     INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at      TEXT NOT NULL,
    by_whom TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX run_operations_run ON run_operations (run_id, seq);
