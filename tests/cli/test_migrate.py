"""`pqw migrate ... --json`: what a deploy script reads."""

from __future__ import annotations

from engine.db import migrate
from engine.db.pool import connect
from tests.cli.runner import pqw


async def test_migrate_up_and_status_as_json(bare_dsn: str) -> None:
    up = await pqw(bare_dsn, "migrate", "up", "--json")
    assert up.code == 0, up.err
    applied = up.json["migrations"]
    assert up.json["action"] == "up" and applied[0] == {"version": 1, "name": applied[0]["name"]}
    assert applied[-1]["version"] == migrate.latest_version()
    again = await pqw(bare_dsn, "migrate", "up", "--json")
    assert again.json["migrations"] == []
    status = await pqw(bare_dsn, "migrate", "status", "--json")
    rows = status.json["migrations"]
    assert len(rows) == len(applied) and all(r["applied_at"] for r in rows)
    assert "@" in status.json["database"] and ":" not in status.json["database"].split("@")[0]
    said = await pqw(bare_dsn, "migrate", "up")
    assert said.out.endswith(f"already up to date (version {migrate.latest_version()})\n")


async def _schema(dsn: str) -> tuple[bool, list[int]]:
    """Whether pqw_job exists, and the versions applied."""
    conn = await connect(dsn)
    try:
        has_jobs = await conn.fetchval("SELECT to_regclass('pqw_job') IS NOT NULL")
        return has_jobs, sorted(await migrate.applied_versions(conn))
    finally:
        await conn.close()


async def test_down_to_nothing_asks_first_and_a_script_must_say_yes(dsn: str) -> None:
    known = migrate.load_migrations()
    kept = (True, [m.version for m in known if m.version <= 7])
    newer = [f"reverted {m.version:03d}_{m.name}" for m in reversed(known) if m.version > 7]
    # Down to a version kept goes ahead unasked, naming what it reverted.
    partial = await pqw(dsn, "migrate", "down", "--target", "7")
    assert partial.code == 0, partial.err
    assert [line.split(": ")[-1] for line in partial.out.splitlines()] == newer
    assert await _schema(dsn) == kept
    # Down to nothing drops every job: a script must say --yes, a "no" changes nothing.
    for argv in (["migrate", "down"], ["migrate", "down", "--target", "0"]):
        script = await pqw(dsn, *argv)
        assert (script.code, script.out) == (2, ""), script.err
        assert script.err.count("\n") == 1 and "add --yes" in script.err
        assert "revert all 6 migrations (007_persistent_state, 005_periodic," in script.err
        assert await _schema(dsn) == kept
    no = await pqw(dsn, "migrate", "down", answer="n\n")
    assert no.code == 1 and no.out.endswith("[y/N] nothing changed\n")
    assert await _schema(dsn) == kept
    yes = await pqw(dsn, "migrate", "down", "--yes", "--json")
    assert yes.code == 0, yes.err
    assert [m["version"] for m in yes.json["migrations"]] == kept[1][::-1]
    assert await _schema(dsn) == (False, [])


async def test_a_target_that_is_no_migration_is_a_usage_error(dsn: str) -> None:
    everything = await _schema(dsn)
    for argv in (
        ["down", "--target", "-5"],
        ["down", "--target", "6"],
        ["down", "--target", "10"],
        ["up", "--target", "6"],
        ["up", "--target", "0"],
        ["up", "--target", "-1"],
    ):
        result = await pqw(dsn, "migrate", *argv)
        assert (result.code, result.out, result.err.count("\n")) == (2, "", 1), (argv, result)
        assert result.err.startswith("pqw migrate: error: no migration with version "), argv
        assert "known versions are 1, 2, 3, 4, 5, 7, 8" in result.err, argv
        assert await _schema(dsn) == everything, argv
