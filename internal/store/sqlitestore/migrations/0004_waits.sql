-- Durable waits (SPEC §10): each parked wait or wait_for step with its
-- deadline and what it waits for, indexed by event type and instance, by
-- signal and run, and by deadline, so matching an event reads only its
-- candidates; the inbox of recent events for steps that wait later; the
-- signal links used once.

CREATE TABLE waits (
    run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     TEXT    NOT NULL,
    item        INTEGER NOT NULL CHECK (item >= -1),
    deadline    TEXT    NOT NULL,
    event       TEXT    NOT NULL DEFAULT '',
    instance    TEXT    NOT NULL DEFAULT '',
    -- match_key is the run's side of the event correlation, '' for none.
    match_key   TEXT    NOT NULL DEFAULT '',
    signal      TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'resolved')),
    output_json TEXT,
    created_at  TEXT    NOT NULL,
    resolved_at TEXT,
    PRIMARY KEY (run_id, step_id, item)
);
CREATE INDEX waits_event ON waits (event, instance, match_key) WHERE state = 'pending' AND event <> '';
CREATE INDEX waits_signal ON waits (run_id, signal) WHERE state = 'pending' AND signal <> '';
CREATE INDEX waits_deadline ON waits (deadline) WHERE state = 'pending';

CREATE TABLE wait_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event       TEXT NOT NULL,
    instance    TEXT NOT NULL,
    data_json   TEXT,
    received_at TEXT NOT NULL
);
CREATE INDEX wait_inbox_event ON wait_inbox (event, instance, id);

CREATE TABLE signal_tokens_used (
    token   TEXT PRIMARY KEY,
    run_id  TEXT NOT NULL,
    used_at TEXT NOT NULL
);
