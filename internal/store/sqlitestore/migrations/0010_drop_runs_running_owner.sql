-- One index of unfinished runs instead of two (issue 16).
--
-- runs_running_owner (owner, for the running runs) and runs_unfinished
-- (status, created_at, id, for the queued and running ones) both took a
-- run's entry when it started and dropped it when it ended: two B-trees,
-- at least a page each, in both commits of a run. runs_running_owner goes:
-- the heartbeat's statements, which name runs_unfinished's condition, read
-- the running runs from it and match the owner in their rows, a scan of
-- the runs in flight (few, and their rows in the writer's cache) rather
-- than a seek in an index of its own. (An owner column in runs_unfinished
-- would spare those reads, but the wider index loses to
-- runs_workflow_created in the plan of a workflow's running runs.)

DROP INDEX runs_running_owner;
