-- A step's first attempt lives in its step record's row (issue 16), as in
-- the SQLite store (its migration 0009).
--
-- A one-step run wrote its attempt twice into a table of its own,
-- step_attempts (a heap row, its primary key's entry and the foreign key's
-- read of step_records), beside the step record it wrote in the same
-- statements: the attempt's start inserted both rows, its finish updated
-- both. The first attempt's columns are now in step_records (first_status
-- NULL when the record has no first attempt), written by the statements
-- that write the record; step_attempts holds attempts 2 and later. The
-- attempt log reads both (Attempts), so what it returns is unchanged.
--
-- The columns are added without defaults (no table rewrite); every first
-- attempt moves to its record's row, which rewrites those rows once.

ALTER TABLE step_records
    ADD COLUMN first_provider       text,
    ADD COLUMN first_action         text,
    ADD COLUMN first_status         text CHECK (first_status IN ('running', 'succeeded', 'failed', 'skipped', 'canceled')),
    ADD COLUMN first_outcome        text,
    ADD COLUMN first_error_class    text,
    ADD COLUMN first_error_message  text,
    ADD COLUMN first_error_field    text,
    ADD COLUMN first_retry_after_ms bigint,
    ADD COLUMN first_request_json   jsonb,
    ADD COLUMN first_response_json  jsonb,
    ADD COLUMN first_started_at     timestamptz,
    ADD COLUMN first_finished_at    timestamptz;

UPDATE step_records r SET first_provider = a.provider, first_action = a.action, first_status = a.status,
    first_outcome = a.outcome, first_error_class = a.error_class, first_error_message = a.error_message,
    first_error_field = a.error_field, first_retry_after_ms = a.retry_after_ms,
    first_request_json = a.request_json, first_response_json = a.response_json,
    first_started_at = a.started_at, first_finished_at = a.finished_at
FROM step_attempts a
WHERE a.run_id = r.run_id AND a.step_id = r.step_id AND a.item = r.item AND a.attempt = 1;

-- Every attempt has its record (a foreign key), so every first attempt moved.
DELETE FROM step_attempts WHERE attempt = 1;
