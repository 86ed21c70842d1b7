-- An idempotency key in one B-tree instead of three (issue 16).
--
-- A run created with a key wrote three B-trees for it: idempotency_keys,
-- idempotency_keys_expires (for PurgeExpiredKeys) and idempotency_keys_run
-- (for the ON DELETE CASCADE from runs), each at least a page a commit.
--
-- The run now names its key (runs.idempotency_key, NULL for none), written
-- with the run's row, and a trigger deletes the key when its run is
-- deleted, by the key's primary key; it spares a key rebound since to a
-- newer run (run_id differs). The key table drops its foreign key (a key is
-- now written before its run, in the same transaction) and both secondary
-- indexes: PurgeExpiredKeys walks the keys in primary-key order in short
-- background writes instead of reading an index of expiries, which only it
-- used.

ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
UPDATE runs SET idempotency_key = k.key FROM idempotency_keys k WHERE k.run_id = runs.id;

CREATE TABLE idempotency_keys_new (
    key         TEXT NOT NULL PRIMARY KEY,
    run_id      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO idempotency_keys_new (key, run_id, expires_at, fingerprint)
    SELECT key, run_id, expires_at, fingerprint FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;

CREATE TRIGGER runs_delete_idempotency_key AFTER DELETE ON runs
    WHEN old.idempotency_key IS NOT NULL
BEGIN
    DELETE FROM idempotency_keys WHERE key = old.idempotency_key AND run_id = old.id;
END;
