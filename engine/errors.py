"""Errors users of pqw catch. Bad values are ValueError/TypeError subclasses."""

from __future__ import annotations


class PqwError(Exception):
    """Base of pqw's own errors."""


class DatabaseUnavailable(PqwError):
    """The database cannot be reached; the message names the host, never the password."""


class InvalidDatabaseUrl(ValueError, PqwError):
    """A database URL or pool mode pqw was given cannot be used (the message masks passwords)."""


class PoolerMisconfigured(PqwError):
    """The database answered like a transaction pooler pqw was not told about."""


class SchemaError(PqwError):
    """The database schema is missing, behind, or ahead of this version of pqw."""


class InvalidJobOption(ValueError, PqwError):
    """An insert option (max_attempts, priority, queue, ...) is out of range."""


class InvalidJobType(TypeError, PqwError):
    """An insert argument has the wrong type (args not a dict, naive datetime, ...)."""


class DuplicateKind(ValueError, PqwError):
    """A job kind or persistent worker was registered twice on one client."""


class InvalidSchedule(ValueError, PqwError):
    """A periodic schedule (cron string, time zone, interval) is invalid."""


class InvalidConfig(ValueError, PqwError):
    """A persistent worker's config is refused; nothing was changed."""


class NotFound(LookupError, PqwError):
    """The job, worker, queue or schedule named does not exist."""


class InvalidCheckpoint(ValueError, PqwError):
    """A persistent worker's checkpoint is refused (not JSON, or too large); nothing was stored."""


class LeaseLost(PqwError):
    """This persistent run no longer holds its lease (its run was taken back, or the lease
    could not be confirmed in time): it cannot checkpoint, and it is stopping."""
