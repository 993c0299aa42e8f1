"""Queues: the ones known anywhere, counts per state, pause and resume, throughput."""

from __future__ import annotations

# Over how many seconds a queue's failure rate is taken.
OUTCOME_WINDOW = 300

# Every queue known anywhere (with jobs, paused or given a concurrency in
# pqw_queue, or worked by a live client: a queue paused before its first job is
# shown; once resumed and unset, one with no jobs and no client goes), with its exact job counts per state, pause and concurrency, its
# failure rate's inputs over the last $1 seconds, and when its oldest available
# job became due (its latency; one probe of the fetch index per priority).
# The counts are the folded base plus the deltas not folded yet (see migration
# 008): a few hundred small rows whatever the size of pqw_job.
QUEUE_OVERVIEW = """
WITH counts AS (
    SELECT queue, state, sum(n)::bigint AS n
    FROM (SELECT queue, state, n FROM pqw_job_count
          UNION ALL
          SELECT queue, state, delta FROM pqw_job_count_delta) x
    GROUP BY queue, state
),
names AS (
    SELECT queue AS name FROM counts WHERE n <> 0
    UNION SELECT name FROM pqw_queue WHERE paused_at IS NOT NULL OR concurrency IS NOT NULL
    UNION SELECT jsonb_object_keys(queues) FROM pqw_client
        WHERE stopped_at IS NULL AND dead_at IS NULL
),
outcomes AS (
    SELECT queue, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed
    FROM pqw_queue_outcome
    WHERE minute >= date_trunc('minute', now() - $1 * interval '1 second')
    GROUP BY queue
)
SELECT n.name AS queue,
       coalesce((SELECT jsonb_object_agg(c.state, c.n) FROM counts c
                 WHERE c.queue = n.name AND c.n <> 0), '{}'::jsonb) AS counts,
       coalesce(q.paused_at IS NOT NULL, false) AS paused,
       q.concurrency,
       coalesce(o.completed, 0) AS completed,
       coalesce(o.failed, 0) AS failed,
       CASE WHEN EXISTS (SELECT 1 FROM counts c
                         WHERE c.queue = n.name AND c.state = 'available' AND c.n > 0)
            THEN (SELECT min(f.scheduled_at) FROM generate_series(0, 9) AS p(priority)
                  CROSS JOIN LATERAL (
                      SELECT j.scheduled_at FROM pqw_job j
                      WHERE j.state = 'available' AND j.queue = n.name
                        AND j.priority = p.priority
                      ORDER BY j.scheduled_at LIMIT 1) f)
       END AS oldest_available_at,
       now() AS now
FROM names n
LEFT JOIN pqw_queue q ON q.name = n.name
LEFT JOIN outcomes o ON o.queue = n.name
ORDER BY n.name
"""

# The queues that have jobs, and the states they have them in: what the jobs
# list merges its per-(queue, state) index scans over.
QUEUE_STATES_WITH_JOBS = """
SELECT queue, state::text AS state
FROM (SELECT queue, state, n FROM pqw_job_count
      UNION ALL
      SELECT queue, state, delta FROM pqw_job_count_delta) x
GROUP BY queue, state
HAVING sum(n) > 0
"""

# Concurrency per client for a queue, live: the row is the truth, a control
# message tells the clients at commit. NULL gives each client its own again.
SET_QUEUE_CONCURRENCY = """
INSERT INTO pqw_queue (name, concurrency) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET concurrency = $2, updated_at = now()
"""

# What clients read at start and with each poll: every queue's operator settings.
QUEUE_SETTINGS = "SELECT name, paused_at IS NOT NULL AS paused, concurrency FROM pqw_queue"

PAUSE_QUEUE = """
INSERT INTO pqw_queue (name, paused_at) VALUES ($1, now())
ON CONFLICT (name) DO UPDATE SET paused_at = coalesce(pqw_queue.paused_at, now()), updated_at = now()
"""

RESUME_QUEUE = """
INSERT INTO pqw_queue (name, paused_at) VALUES ($1, NULL)
ON CONFLICT (name) DO UPDATE SET paused_at = NULL, updated_at = now()
"""

THROUGHPUT = """
SELECT extract(epoch FROM second)::bigint AS second, sum(completed)::bigint AS completed,
       extract(epoch FROM date_trunc('second', now()))::bigint AS now_second
FROM pqw_throughput
WHERE second > now() - $1 * interval '1 second'
GROUP BY second
"""

NOW = "SELECT now()"

NOW_SECOND = "SELECT extract(epoch FROM date_trunc('second', now()))::bigint"
