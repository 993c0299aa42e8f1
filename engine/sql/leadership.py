"""pqw_leader: the lease, its renewal and takeover, and the fence leader-only passes run behind."""

from __future__ import annotations

# The lease is one row. Its holder renews it with an UPDATE that changes no key
# (a no-key lock); a follower takes it over only once it has expired, by
# DELETE then INSERT. Fenced passes hold FOR KEY SHARE on the row: that lock
# lets the holder's renewals through but makes a takeover's DELETE wait until
# every pass under way has committed, so a paused or partitioned former leader
# can never write after another client was elected, and renewals never queue
# behind passes.
RENEW_LEADERSHIP = """
UPDATE pqw_leader SET expires_at = now() + $2 * interval '1 second'
WHERE name = 'default' AND leader_id = $1
RETURNING leader_id
"""

READ_LEADERSHIP = (
    "SELECT leader_id, expires_at > now() AS valid FROM pqw_leader WHERE name = 'default'"
)

TAKE_EXPIRED_LEADERSHIP = "DELETE FROM pqw_leader WHERE name = 'default' AND expires_at <= now()"

CLAIM_LEADERSHIP = """
INSERT INTO pqw_leader (name, leader_id, elected_at, expires_at)
VALUES ('default', $1, now(), now() + $2 * interval '1 second')
ON CONFLICT (name) DO NOTHING
RETURNING leader_id
"""

# The fence every leader-only pass runs behind, in the pass's own transaction:
# it holds only while this client's lease is unexpired (see above for the lock).
FENCE_LEADERSHIP = """
SELECT 1 FROM pqw_leader WHERE leader_id = $1 AND expires_at > now() FOR KEY SHARE
"""

RESIGN_LEADERSHIP = "DELETE FROM pqw_leader WHERE leader_id = $1 RETURNING leader_id"

GET_LEADER = """
SELECT leader_id, elected_at, expires_at, expires_at > now() AS valid FROM pqw_leader
"""
