-- Runs, idempotency keys, step records, the attempt log and cron state.
-- Times are TEXT in the fixed-width UTC layout 2006-01-02T15:04:05.000000Z,
-- so they compare and sort as strings. JSON values are TEXT.

CREATE TABLE runs (
    id           TEXT    PRIMARY KEY,
    workflow     TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped')),
    trigger_json TEXT,
    inputs_json  TEXT,
    attempt      INTEGER NOT NULL DEFAULT 0,
    owner        TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    -- version counts updates, for optimistic concurrency in UpdateRun.
    version      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at, id);
CREATE INDEX runs_status_created ON runs (status, created_at, id);

CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);

CREATE TABLE step_records (
    -- seq orders records by creation.
    seq           INTEGER PRIMARY KEY,
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id       TEXT    NOT NULL,
    item          INTEGER NOT NULL CHECK (item >= -1),
    status        TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    provider      TEXT    NOT NULL DEFAULT '',
    output_json   TEXT,
    -- error_class is NULL when the record has no error.
    error_class   TEXT,
    error_message TEXT,
    error_field   TEXT,
    started_at    TEXT,
    finished_at   TEXT,
    UNIQUE (run_id, step_id, item)
);

CREATE TABLE step_attempts (
    run_id        TEXT    NOT NULL,
    step_id       TEXT    NOT NULL,
    item          INTEGER NOT NULL,
    attempt       INTEGER NOT NULL CHECK (attempt >= 1),
    provider      TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    error_class   TEXT,
    error_message TEXT,
    error_field   TEXT,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    PRIMARY KEY (run_id, step_id, item, attempt),
    FOREIGN KEY (run_id, step_id, item) REFERENCES step_records (run_id, step_id, item) ON DELETE CASCADE
);

CREATE TABLE cron_state (
    workflow    TEXT NOT NULL,
    trigger_key TEXT NOT NULL,
    last_fire   TEXT,
    next_fire   TEXT,
    PRIMARY KEY (workflow, trigger_key)
);
