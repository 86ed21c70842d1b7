-- Reserved for the idempotency fingerprint migration of another branch;
-- the merge replaces this file with it.
SELECT 1;
