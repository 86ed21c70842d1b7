-- Signals sent to a run before its wait_for { signal } step waits (SPEC
-- §10): each kept with the output it gives the step that takes it, oldest
-- first, bounded per run (store.SignalInboxMax) and deleted with the run.

CREATE TABLE signal_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    signal      TEXT    NOT NULL,
    output_json TEXT    NOT NULL,
    received_at TEXT    NOT NULL
);
CREATE INDEX signal_inbox_run ON signal_inbox (run_id, signal, id);
