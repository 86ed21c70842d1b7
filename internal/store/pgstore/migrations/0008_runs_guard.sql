-- The held job that guards a run a replica executes where it admitted it
-- (issue 16).
--
-- A scale-out replica holds back one River job for all the runs it admits
-- within about a second with the same lease, instead of one per run or per
-- create transaction: each such run names that job's guard token here, and
-- should the replica stop answering, the job falls due and its worker
-- queues the runs that name its token and are unfinished. The column is
-- read only then, from the unfinished runs (runs_unfinished), so it has no
-- index; NULL for every other run.

ALTER TABLE runs ADD COLUMN guard text;
