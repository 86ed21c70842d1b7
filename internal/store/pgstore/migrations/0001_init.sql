-- Runs, idempotency keys, step records, the attempt log and cron state.
-- Applied with search_path set to the store's schema only, so names here are
-- unqualified. Times are timestamptz (microseconds, compared as instants);
-- JSON values are jsonb. Identifiers use COLLATE "C", so they compare and sort
-- byte by byte, as in the SQLite store, whatever the database's locale.

CREATE TABLE runs (
    id           text COLLATE "C" PRIMARY KEY,
    workflow     text COLLATE "C" NOT NULL,
    status       text   NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped')),
    trigger_json jsonb,
    inputs_json  jsonb,
    attempt      bigint NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    owner        text   NOT NULL DEFAULT '',
    error        text   NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    -- version counts updates, for optimistic concurrency in UpdateRun.
    version      bigint NOT NULL DEFAULT 0
);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at, id);
CREATE INDEX runs_status_created ON runs (status, created_at, id);
CREATE INDEX runs_unfinished ON runs (created_at, id) WHERE status IN ('queued', 'running');

CREATE TABLE idempotency_keys (
    key        text COLLATE "C" PRIMARY KEY,
    -- Deferred, so CreateRun can claim the key before it inserts the run.
    run_id     text COLLATE "C" NOT NULL
               REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    expires_at timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);

CREATE TABLE step_records (
    -- seq orders records by creation.
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id       text COLLATE "C" NOT NULL,
    item          bigint NOT NULL CHECK (item >= -1),
    status        text   NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    attempts      bigint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    provider      text   NOT NULL DEFAULT '',
    output_json   jsonb,
    -- error_class is NULL when the record has no error.
    error_class   text,
    error_message text,
    error_field   text,
    started_at    timestamptz,
    finished_at   timestamptz,
    UNIQUE (run_id, step_id, item)
);

CREATE TABLE step_attempts (
    run_id        text COLLATE "C" NOT NULL,
    step_id       text COLLATE "C" NOT NULL,
    item          bigint NOT NULL,
    attempt       bigint NOT NULL CHECK (attempt >= 1),
    provider      text   NOT NULL DEFAULT '',
    status        text   NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    error_class   text,
    error_message text,
    error_field   text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    PRIMARY KEY (run_id, step_id, item, attempt),
    FOREIGN KEY (run_id, step_id, item) REFERENCES step_records (run_id, step_id, item) ON DELETE CASCADE
);

CREATE TABLE cron_state (
    workflow    text COLLATE "C" NOT NULL,
    trigger_key text COLLATE "C" NOT NULL,
    last_fire   timestamptz,
    next_fire   timestamptz,
    PRIMARY KEY (workflow, trigger_key)
);
