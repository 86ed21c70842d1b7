-- A step's sent message lives in its step record's row (issue 16, SPEC §10).
--
-- A one-step run that sends a message with delivery receipts wrote its
-- index row apart: a statement of its own, two B-trees (deliveries, keyed by
-- the provider and the message id, and deliveries_run for the run's
-- deliveries and the cascade from runs) and a foreign-key read of runs, in
-- the commit that already rewrites the step record. The message a step's
-- first attempt sent is now kept in the record's row (the msg_ columns,
-- msg_id NULL when the row holds none), written by the statement that
-- finishes the attempt; step_records_message finds it by provider and id
-- for a receipt, and the record's key index finds a run's. A message that
-- cannot go there (indexed before its step record exists, a second message
-- of the same step, one bound elsewhere already) is kept in deliveries as
-- before, so a message is in exactly one of the two places (see
-- indexMessage).
--
-- The rows already in deliveries stay there and are read as before.

ALTER TABLE step_records ADD COLUMN msg_provider TEXT;
ALTER TABLE step_records ADD COLUMN msg_id TEXT;
ALTER TABLE step_records ADD COLUMN msg_event TEXT;
-- msg_status is '' until a receipt arrives, as deliveries.status.
ALTER TABLE step_records ADD COLUMN msg_status TEXT NOT NULL DEFAULT ''
    CHECK (msg_status IN ('', 'sent', 'failed', 'delivered', 'read'));
ALTER TABLE step_records ADD COLUMN msg_at TEXT;
ALTER TABLE step_records ADD COLUMN msg_event_json TEXT;

CREATE UNIQUE INDEX step_records_message ON step_records (msg_provider, msg_id)
    WHERE msg_id IS NOT NULL;
