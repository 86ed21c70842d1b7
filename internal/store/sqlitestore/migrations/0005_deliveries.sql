-- Delivery receipts (SPEC §10): each sent message whose action declares
-- receipts, named by the provider instance that sent it and its id there,
-- points at the step record (and for_each item) whose output named it, with
-- the best delivery status reported so far. Rows go with their run.

CREATE TABLE deliveries (
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
);
CREATE INDEX deliveries_run ON deliveries (run_id);
