"""pqw_leader: the lease, its renewal and takeover, and the fence leader-only passes run behind."""

from __future__ import annotations

# The lease is one row. Its holder renews it with an UPDATE that changes no key
# (a no-key lock). A follower takes it over only once it has expired, in one
# statement whose lock (it names the key column, so it is a FOR UPDATE lock)
# conflicts with the FOR KEY SHARE a fenced pass takes as it commits: a pass
# of a former leader either commits before the takeover or finds the lease
# gone and rolls back, so a paused or partitioned former leader can never
# write after another client was elected, and renewals never queue behind
# passes (FOR KEY SHARE lets a no-key update through).
RENEW_LEADERSHIP = """
UPDATE pqw_leader SET expires_at = now() + $2 * interval '1 second'
WHERE name = 'default' AND leader_id = $1
RETURNING leader_id
"""

READ_LEADERSHIP = (
    "SELECT leader_id, expires_at > now() AS valid FROM pqw_leader WHERE name = 'default'"
)

# The takeover's own bounds, set in its transaction: it waits at most $1 ms
# for a lock (a former leader's fenced commit under way), and runs at most $2 ms.
BOUND_TAKEOVER = """
SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)
"""

TAKE_LEADERSHIP = """
INSERT INTO pqw_leader AS l (name, leader_id, elected_at, expires_at)
VALUES ('default', $1, now(), now() + $2 * interval '1 second')
ON CONFLICT (name) DO UPDATE
SET name = EXCLUDED.name, leader_id = EXCLUDED.leader_id,
    elected_at = EXCLUDED.elected_at, expires_at = EXCLUDED.expires_at
WHERE l.expires_at <= now()
RETURNING leader_id
"""

# A fenced transaction begins by bounding itself on the server, then checks
# (without a lock) that the lease is still ours, so a pass does no work for
# nothing. On PostgreSQL 17+ one timer ($2 ms) bounds the whole transaction,
# whatever the session is doing: waiting for a lock, running a statement, or
# stalled between the Parse and the Bind of the next one (asyncpg prepares with
# Parse/Describe/Flush, so a session frozen there is active, not idle, and the
# older timeouts never fire). Set per transaction, never as startup
# parameters, which PgBouncer refuses.
BEGIN_FENCED = """
SELECT set_config('transaction_timeout', $2, true),
       EXISTS (SELECT 1 FROM pqw_leader
               WHERE leader_id = $1 AND expires_at > clock_timestamp()) AS leading
"""

# The same before PostgreSQL 17: each statement ($2 ms), each lock wait ($3 ms)
# and each idle moment inside the transaction ($2 ms) is bounded; the leader's
# sessions prepare the passes' statements when they connect, so no Parse
# happens inside a fenced transaction.
BEGIN_FENCED_BEFORE_17 = """
SELECT set_config('statement_timeout', $2, true), set_config('lock_timeout', $3, true),
       set_config('idle_in_transaction_session_timeout', $2, true),
       EXISTS (SELECT 1 FROM pqw_leader
               WHERE leader_id = $1 AND expires_at > clock_timestamp()) AS leading
"""

# The fence, the last statement of every leader-only pass before its commit:
# the lease is still this client's, and stays so until the commit (the lock;
# see above). Taken last, the lock is held only from here to the COMMIT, with
# the session idle in between: bounded on every server version.
FENCE_LEADERSHIP = """
SELECT 1 FROM pqw_leader WHERE leader_id = $1 AND expires_at > clock_timestamp() FOR KEY SHARE
"""

RESIGN_LEADERSHIP = "DELETE FROM pqw_leader WHERE leader_id = $1 RETURNING leader_id"

GET_LEADER = """
SELECT leader_id, elected_at, expires_at, expires_at > now() AS valid FROM pqw_leader
"""

SERVER_VERSION_NUM = "SELECT current_setting('server_version_num')::int"
