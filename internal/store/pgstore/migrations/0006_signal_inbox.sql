-- Signals sent to a run before its wait_for { signal } step waits (SPEC
-- §10): each kept with the output it gives the step that takes it, oldest
-- first, bounded per run (store.SignalInboxMax) and deleted with the run.

CREATE TABLE signal_inbox (
    id          bigserial   PRIMARY KEY,
    run_id      text        COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    signal      text        COLLATE "C" NOT NULL,
    output_json jsonb       NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX signal_inbox_run ON signal_inbox (run_id, signal, id);
