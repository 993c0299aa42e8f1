-- pqw schema, version 9: the indexes the dashboard's searches page from at any
-- table size (engine/sql/job_search.py says which search uses which), and a
-- bounded failures-by-cause. Plain CREATE INDEX: writers to pqw_job wait while
-- they build (about a minute per 10M jobs on a small machine).
--
-- Not here: a GIN index on args. It would make `args.customer=7` fast alone,
-- but every insert and every state change (none is a HOT update) writes to it,
-- which cost about 40% of the insert rate (measured: /work/notes/scale.md).
-- An args search is instead bounded by its timeout; the README says how to
-- add the index for those who want it, and the search uses it when it exists.

-- A kind, exact or by prefix (`kind:email.*`), with any queue and state: one
-- probe per (kind, queue, state), newest first. text_pattern_ops orders kinds
-- bytewise whatever the database's collation, so a prefix is a range and the
-- kinds in it a loose scan of this index's first column.
CREATE INDEX pqw_job_kind_idx ON pqw_job (kind text_pattern_ops, queue, state, id);

-- Failures by cause: the newest failed jobs by when they failed, in every queue
-- or in one. Partial, so only failed jobs ever write to them.
CREATE INDEX pqw_job_failed_idx ON pqw_job ((coalesce(finalized_at, attempted_at, created_at)), id)
    WHERE state IN ('retryable', 'discarded');
CREATE INDEX pqw_job_queue_failed_idx
    ON pqw_job (queue, (coalesce(finalized_at, attempted_at, created_at)), id)
    WHERE state IN ('retryable', 'discarded');
