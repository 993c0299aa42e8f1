"""The maintenance crew: leader-only services, one module each (scheduler, rescuer, cleaner,
client registry, persistent supervisor, periodic enqueuer), run by LeaderServices."""
