-- Run history (SPEC §8): run reason, trigger kind, owner heartbeat and cancel
-- requests; step reason and for_each total; each attempt's action, outcome,
-- retry-after and masked request/response; the operators' log; statuses
-- canceled, waiting and needs_attention; newest-first indexes for the
-- console's keyset pages.

ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check CHECK (status IN ('queued', 'running', 'waiting',
    'needs_attention', 'succeeded', 'failed', 'skipped', 'canceled'));
ALTER TABLE runs
    ADD COLUMN reason           text NOT NULL DEFAULT '',
    ADD COLUMN trigger_kind     text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN heartbeat_at     timestamptz,
    ADD COLUMN cancel_requested text NOT NULL DEFAULT '';
UPDATE runs SET trigger_kind = trigger_json->>'kind' WHERE trigger_json->>'kind' IS NOT NULL;
DROP INDEX runs_created;
DROP INDEX runs_workflow_created;
DROP INDEX runs_status_created;
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at DESC, id DESC);
CREATE INDEX runs_status_created ON runs (status, created_at DESC, id DESC);
CREATE INDEX runs_kind_created ON runs (trigger_kind, created_at DESC, id DESC);
CREATE INDEX runs_workflow_status_created ON runs (workflow, status, created_at DESC, id DESC);
CREATE INDEX runs_running_owner ON runs (owner) WHERE status = 'running';

ALTER TABLE step_records DROP CONSTRAINT step_records_status_check;
ALTER TABLE step_records ADD CONSTRAINT step_records_status_check CHECK (status IN ('running', 'waiting',
    'needs_attention', 'succeeded', 'failed', 'skipped', 'canceled'));
ALTER TABLE step_records
    ADD COLUMN reason text   NOT NULL DEFAULT '',
    ADD COLUMN total  bigint NOT NULL DEFAULT 0 CHECK (total >= 0);

ALTER TABLE step_attempts DROP CONSTRAINT step_attempts_status_check;
ALTER TABLE step_attempts ADD CONSTRAINT step_attempts_status_check CHECK (status IN ('running',
    'succeeded', 'failed', 'skipped', 'canceled'));
ALTER TABLE step_attempts
    ADD COLUMN action         text   NOT NULL DEFAULT '',
    ADD COLUMN outcome        text   NOT NULL DEFAULT '',
    ADD COLUMN retry_after_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN request_json   jsonb,
    ADD COLUMN response_json  jsonb;
UPDATE step_attempts SET outcome = CASE
    WHEN status = 'running' THEN ''
    WHEN status IN ('succeeded', 'skipped') THEN 'succeeded'
    WHEN error_class IN ('retryable', 'permanent', 'rate_limited') THEN error_class
    ELSE 'retryable' END;

CREATE TABLE run_operations (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL,
    by_whom text NOT NULL DEFAULT '',
    action  text NOT NULL,
    detail  text NOT NULL DEFAULT ''
);
CREATE INDEX run_operations_run ON run_operations (run_id, seq);
