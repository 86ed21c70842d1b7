-- Reserved for the waits migration (0004_waits.sql on branch h-waits); this
-- placeholder keeps the versions gapless until that branch is merged, when
-- it is deleted.
SELECT 1;
