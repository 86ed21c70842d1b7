-- A step's first attempt lives in its step record's row (issue 16).
--
-- A one-step run wrote its attempt twice into two B-trees of their own,
-- step_attempts and its primary key's index, beside the step record it
-- wrote in the same transactions: each at least a page a commit, and a
-- statement each. The first attempt's columns are now in step_records
-- (first_status NULL when the record has no first attempt), written by the
-- statements that write the record; step_attempts holds attempts 2 and
-- later. The attempt log reads both (Attempts), so what it returns is
-- unchanged.
--
-- Every first attempt moves to its record's row; an attempt row without a
-- record (none can exist while foreign keys are on) stays where it is and
-- still reads back.

ALTER TABLE step_records ADD COLUMN first_provider TEXT;
ALTER TABLE step_records ADD COLUMN first_action TEXT;
ALTER TABLE step_records ADD COLUMN first_status TEXT
    CHECK (first_status IN ('running', 'succeeded', 'failed', 'skipped', 'canceled'));
ALTER TABLE step_records ADD COLUMN first_outcome TEXT;
ALTER TABLE step_records ADD COLUMN first_error_class TEXT;
ALTER TABLE step_records ADD COLUMN first_error_message TEXT;
ALTER TABLE step_records ADD COLUMN first_error_field TEXT;
ALTER TABLE step_records ADD COLUMN first_retry_after_ms INTEGER;
ALTER TABLE step_records ADD COLUMN first_request_json TEXT;
ALTER TABLE step_records ADD COLUMN first_response_json TEXT;
ALTER TABLE step_records ADD COLUMN first_started_at TEXT;
ALTER TABLE step_records ADD COLUMN first_finished_at TEXT;

UPDATE step_records SET first_provider = a.provider, first_action = a.action, first_status = a.status,
    first_outcome = a.outcome, first_error_class = a.error_class, first_error_message = a.error_message,
    first_error_field = a.error_field, first_retry_after_ms = a.retry_after_ms,
    first_request_json = a.request_json, first_response_json = a.response_json,
    first_started_at = a.started_at, first_finished_at = a.finished_at
FROM step_attempts a
WHERE a.run_id = step_records.run_id AND a.step_id = step_records.step_id AND a.item = step_records.item
    AND a.attempt = 1;

DELETE FROM step_attempts WHERE attempt = 1 AND EXISTS (
    SELECT 1 FROM step_records r
    WHERE r.run_id = step_attempts.run_id AND r.step_id = step_attempts.step_id AND r.item = step_attempts.item);
