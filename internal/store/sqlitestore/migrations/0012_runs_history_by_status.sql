-- Two history indexes of runs fewer (issue 16).
--
-- Every run took an entry in five indexes over the whole history, each a
-- B-tree seek and insert (about 12k instructions) and at least a page a
-- commit. Two of them were only another order of what the status indexes
-- hold already: every run is in runs_unfinished (queued, running) or in
-- runs_settled_created (the rest), both ordered by (status, created_at, id)
-- within a status. A list without a status or trigger-kind filter now
-- reads one ordered arm per status and merges them (a compound SELECT,
-- which SQLite merges without sorting; see listRunsQuery), so runs_created
-- goes; by workflow, runs_workflow_settled_created gives the settled arms
-- and runs_unfinished the few unfinished runs, so runs_workflow_created
-- goes too. The retention's oldest final runs merge the same way
-- (PruneRuns).
-- runs_kind_created stays: no status index holds the trigger kind.

DROP INDEX runs_created;
DROP INDEX runs_workflow_created;
