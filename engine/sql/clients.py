"""pqw_client: every running client (node), its heartbeat, and the leader's upkeep of the list."""

from __future__ import annotations

REGISTER_CLIENT = """
INSERT INTO pqw_client (id, host, pid, queues, kinds, persistent, version)
VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL, dead_at = NULL
"""

# The client is alive and holds these jobs ($2): the rescuer leaves them alone
# while this heartbeat is fresh (see sql.attempts.COMPLETE_JOBS). It works its queues
# with these slots ($3, as shown per client); it gets back the concurrency an
# operator set live per queue, which it applies (so a missed notification
# delays a change by one heartbeat at most).
HEARTBEAT_CLIENT = """
UPDATE pqw_client SET heartbeat_at = now(), dead_at = NULL, held_jobs = $2::bigint[],
                      queues = $3::text::jsonb
WHERE id = $1
RETURNING id, (SELECT coalesce(jsonb_object_agg(name, concurrency), '{}')
               FROM pqw_queue WHERE concurrency IS NOT NULL)::text AS limits
"""

# The concurrency an operator set live per queue, read as a client starts.
QUEUE_LIMITS = "SELECT name, concurrency FROM pqw_queue WHERE concurrency IS NOT NULL"

STOP_CLIENT = "UPDATE pqw_client SET stopped_at = now(), held_jobs = '{}' WHERE id = $1"

# A client counts as alive while it heartbeats; $1 is how stale it may get.
LIST_CLIENTS = """
SELECT c.*, now() AS now,
       (c.stopped_at IS NULL AND c.dead_at IS NULL
        AND c.heartbeat_at > now() - $1 * interval '1 second') AS alive,
       coalesce(l.leader_id = c.id AND l.expires_at > now(), false) AS is_leader
FROM pqw_client c
LEFT JOIN pqw_leader l ON true
WHERE $2 OR c.stopped_at IS NULL
ORDER BY c.started_at, c.id
"""

MARK_DEAD_CLIENTS = """
UPDATE pqw_client SET dead_at = now()
WHERE dead_at IS NULL AND stopped_at IS NULL
  AND heartbeat_at < now() - $1 * interval '1 second'
RETURNING id
"""

PRUNE_CLIENTS = """
DELETE FROM pqw_client
WHERE coalesce(stopped_at, dead_at) < now() - $1 * interval '1 second'
"""
