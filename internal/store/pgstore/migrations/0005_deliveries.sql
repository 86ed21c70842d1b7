-- Delivery receipts (SPEC §10): each sent message whose action declares
-- receipts, named by the provider instance that sent it and its id there,
-- points at the step record (and for_each item) whose output named it, with
-- the best delivery status reported so far. Rows go with their run.

CREATE TABLE deliveries (
    provider   text        NOT NULL,
    message_id text        NOT NULL,
    event      text        NOT NULL,
    run_id     text        NOT NULL,
    step_id    text        NOT NULL,
    item       integer     NOT NULL CHECK (item >= -1),
    -- status is '' until a receipt arrives.
    status     text        NOT NULL DEFAULT '' CHECK (status IN ('', 'sent', 'failed', 'delivered', 'read')),
    at         timestamptz,
    event_json jsonb,
    PRIMARY KEY (provider, message_id),
    CONSTRAINT deliveries_run_fk FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE INDEX deliveries_run ON deliveries (run_id);
