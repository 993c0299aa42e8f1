"""A client's identity and timing, as it is made: checked now, not at the first job."""

from __future__ import annotations

import os
import secrets
import socket

from engine.jobs.checks import heartbeat_timeout_after, validate_seconds


def default_client_id() -> str:
    host = socket.gethostname().split(".")[0] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


def client_timing(
    poll_interval: object,
    job_heartbeat_interval: object,
    heartbeat_timeout: object,
    stop_timeout: object,
) -> tuple[float, float, float, float]:
    """A client's intervals and timeouts, checked together: a running job's heartbeat
    timeout at or under its heartbeat interval took the job back from its live client
    again and again, and a zero interval spun the loop it paces."""
    poll = validate_seconds(poll_interval, "poll_interval")
    beat = validate_seconds(job_heartbeat_interval, "job_heartbeat_interval")
    timeout = heartbeat_timeout_after(beat, heartbeat_timeout, "heartbeat_timeout")
    return poll, beat, timeout, validate_seconds(stop_timeout, "stop_timeout", zero=True)
