"""Queues: the ones known anywhere, counts per state, pause and resume, throughput."""

from __future__ import annotations

# Queues known anywhere: in jobs (a loose index scan: one probe per distinct
# queue, not a scan of the table), paused in pqw_queue, and in live clients. A
# queue paused before its first job is shown (it will hold its jobs back); once
# resumed, a queue with no jobs and no client is nothing any more, and goes.
KNOWN_QUEUES_CTE = """
WITH RECURSIVE job_queues AS (
    (SELECT queue FROM pqw_job ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT j.queue FROM pqw_job j WHERE j.queue > q.queue ORDER BY j.queue LIMIT 1)
    FROM job_queues q WHERE q.queue IS NOT NULL
),
names AS (
    SELECT queue AS name FROM job_queues WHERE queue IS NOT NULL
    UNION SELECT name FROM pqw_queue WHERE paused_at IS NOT NULL
    UNION SELECT jsonb_object_keys(queues) FROM pqw_client
        WHERE stopped_at IS NULL AND dead_at IS NULL
)"""

# Exact counts up to $1 per queue and state (an index-only probe each), the
# planner's estimate above that: fast at any table size.
QUEUE_STATE_COUNTS = f"""
{KNOWN_QUEUES_CTE},
capped AS (
    SELECT n.name, s.state,
           (SELECT count(*) FROM (SELECT 1 FROM pqw_job j
                                  WHERE j.queue = n.name AND j.state = s.state
                                  LIMIT $1) x) AS n
    FROM names n CROSS JOIN unnest(enum_range(NULL::pqw_job_state)) AS s(state)
)
SELECT c.name AS queue, c.state::text AS state,
       CASE WHEN c.n >= $1 THEN greatest(c.n, pqw_job_count_estimate(c.name, c.state))
            ELSE c.n END AS count,
       c.n >= $1 AS estimated,
       coalesce(q.paused_at IS NOT NULL, false) AS paused
FROM capped c LEFT JOIN pqw_queue q ON q.name = c.name
ORDER BY c.name
"""

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
