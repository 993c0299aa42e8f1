"""Operator actions: what a key or the palette asks of the cluster, shown pending until confirmed.

`cluster` acts on persistent workers, queues and schedules; `jobs` on one job.
Both run through `operator.run_operator_action`: the change shows at once,
the call goes through the feed off the UI thread, and a refused action is a
notification.
"""
