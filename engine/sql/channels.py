"""The notification channels: insert wake-ups, control messages, leadership."""

from __future__ import annotations

CONTROL_CHANNEL = "pqw_control"

INSERT_CHANNEL = "pqw_insert"

LEADER_CHANNEL = "pqw_leader"

NOTIFY = "SELECT pg_notify($1, $2)"
