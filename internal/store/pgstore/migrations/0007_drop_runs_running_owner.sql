-- One runs index less, as in the SQLite store (issue 16).
--
-- runs_running_owner (owner, for the running runs) and runs_unfinished
-- (created_at, id, for the queued and running ones) both took a run's
-- entry when it started: a run's status change is never a HOT update, so
-- each index whose predicate holds gets an entry. runs_running_owner goes:
-- the heartbeat reads the running runs from runs_unfinished, naming its
-- condition, and matches the owner in their rows (the runs in flight:
-- few).

DROP INDEX runs_running_owner;
