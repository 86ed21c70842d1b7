-- Durable waits (SPEC §10): each parked wait or wait_for step with its
-- deadline and what it waits for, indexed by event type and instance, by
-- signal and run, and by deadline, so matching an event reads only its
-- candidates; the inbox of recent events for steps that wait later; the
-- signal links used once.

CREATE TABLE waits (
    run_id      text        COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     text        COLLATE "C" NOT NULL,
    item        integer     NOT NULL CHECK (item >= -1),
    deadline    timestamptz NOT NULL,
    event       text        COLLATE "C" NOT NULL DEFAULT '',
    instance    text        COLLATE "C" NOT NULL DEFAULT '',
    -- match_key is the run's side of the event correlation, '' for none.
    match_key   text        COLLATE "C" NOT NULL DEFAULT '',
    signal      text        COLLATE "C" NOT NULL DEFAULT '',
    state       text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'resolved')),
    output_json jsonb,
    created_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    PRIMARY KEY (run_id, step_id, item)
);
CREATE INDEX waits_event ON waits (event, instance, match_key) WHERE state = 'pending' AND event <> '';
CREATE INDEX waits_signal ON waits (run_id, signal) WHERE state = 'pending' AND signal <> '';
CREATE INDEX waits_deadline ON waits (deadline) WHERE state = 'pending';

CREATE TABLE wait_inbox (
    id          bigserial   PRIMARY KEY,
    event       text        COLLATE "C" NOT NULL,
    instance    text        COLLATE "C" NOT NULL,
    data_json   jsonb,
    received_at timestamptz NOT NULL
);
CREATE INDEX wait_inbox_event ON wait_inbox (event, instance, id);

CREATE TABLE signal_tokens_used (
    token   text        COLLATE "C" PRIMARY KEY,
    run_id  text        COLLATE "C" NOT NULL,
    used_at timestamptz NOT NULL
);
