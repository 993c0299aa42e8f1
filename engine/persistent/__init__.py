"""Persistent workers: definitions and their typed configs, the handler's context, one run
and its lease, and the manager that plugs runs into a started client's runtime.

Each run is one job (kind `pqw.persistent:<name>`) that is unique while live, so
at most one run exists at a time. The running attempt holds a lease: it
heartbeats (job id, attempt) every heartbeat_interval, and the moment a
heartbeat updates no row — or cannot be confirmed in time — the handler is
cancelled. The rescuer ends runs whose heartbeat went stale, and the leader's
supervisor (or the run itself, as it ends) inserts the next run.
"""
