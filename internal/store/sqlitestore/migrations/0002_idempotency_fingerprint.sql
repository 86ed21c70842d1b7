-- The fingerprint of the request that bound an idempotency key (such as a
-- hash of the workflow and the request body), so a repeat of the key with a
-- different request is refused rather than answered with the first run.
-- Empty for keys stored before this step, and for callers that set none:
-- an empty fingerprint matches any request.

ALTER TABLE idempotency_keys ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
