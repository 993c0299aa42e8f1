"""The README's configuration reference is the code's: every option of Client, @client.job,
@client.persistent, MaintenanceConfig and Retention, in order, with its default, and every
environment variable pqw reads; a new option or a changed default fails here until the
table says so."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from engine import Client, MaintenanceConfig, PersistentContext, Retention
from engine.persistent.options import PersistentOptions, define_worker
from tests.helpers import ROOT

REFERENCE = "## Configuration reference"


def reference() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(REFERENCE + "\n")
    return text[start : text.index("\n## ", start + len(REFERENCE))]


def table(name: str) -> dict[str, Any]:
    """The options of the table under "### `name`", each with its default evaluated."""
    text = reference()
    start = text.index(f"### `{name}`\n")
    end = text.find("\n### ", start + 1)
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text[start : end if end > 0 else None], re.M)
    assert rows, f"no options documented under {name}"
    names = {"timedelta": timedelta, "Retention": Retention}
    return {option: eval(default, names) for option, default in rows}


def signature_defaults(fn: Callable[..., Any], *skip: str) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if name not in ("self", *skip)
    }


def dataclass_defaults(cls: type) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory()
        else:
            defaults[f.name] = f.default
    return defaults


@pytest.mark.parametrize(
    ("name", "defaults"),
    [
        ("Client(...)", lambda: signature_defaults(Client.__init__)),
        ("@client.job(kind, ...)", lambda: signature_defaults(Client.job, "kind")),
        ("MaintenanceConfig(...)", lambda: dataclass_defaults(MaintenanceConfig)),
        ("Retention(...)", lambda: dataclass_defaults(Retention)),
    ],
)
def test_each_documented_option_and_default_is_the_codes(
    name: str, defaults: Callable[[], dict[str, Any]]
) -> None:
    documented, actual = table(name), defaults()
    assert list(documented) == list(actual)  # every option, in the code's order
    assert documented == actual


def test_the_persistent_options_and_the_defaults_a_worker_gets() -> None:
    async def handler(ctx: PersistentContext) -> None: ...

    worker = define_worker("w", handler, {}, defined=(), job_queues=())
    documented = table("@client.persistent(name, ...)")
    assert list(documented) == list(PersistentOptions.__annotations__)
    assert documented == {option: getattr(worker, option) for option in documented}


def test_every_environment_variable_pqw_reads_is_named() -> None:
    read = {
        m
        for folder in ("engine", "tui")
        for path in (ROOT / folder).rglob("*.py")
        for m in re.findall(r'"((?:PQW_)?[A-Z_]*DATABASE_URL|PQW_[A-Z_]+)"', path.read_text())
    }
    named = set(re.findall(r"`((?:PQW_)?[A-Z_]+)`", reference().split("###")[0]))
    assert (
        read
        == named
        == {
            "PQW_DATABASE_URL",
            "DATABASE_URL",
            "PQW_DIRECT_URL",
            "PQW_POOL_MODE",
            "PQW_HOME",
        }
    )
