"""`pqw migrate ... --json`: what a deploy script reads."""

from __future__ import annotations

from engine.db import migrate
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
