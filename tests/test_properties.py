"""Random and hostile values at every public insert, admin and CLI entry point.

Each call works, or raises one of pqw's own errors (a PqwError: InvalidJobType
and friends are also the TypeError/ValueError they are documented as), never
asyncpg's, never an AttributeError or a KeyError, and leaves the database as it
was. Quotes, semicolons, $$, NUL bytes and unicode go to SQL only as bind
parameters (the last test reads the source to keep it so).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import json
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import (
    Client,
    InsertOpts,
    JobSpec,
    JobState,
    PersistentContext,
    PqwError,
    UniqueOpts,
    cron,
    every,
)
from engine.admin import Admin
from engine.cli.main import main as pqw_main
from engine.db.pool import connect
from engine.errors import InvalidJobOption
from engine.jobs.insert_params import encode_object, template_for
from engine.jobs.kinds import JobHandler
from engine.jobs.unique import canonical_json, unique_key
from tests.helpers import ROOT, run_pqw

SHARED = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

HOSTILE = [
    "'; DROP TABLE pqw_job; --",
    "$$; DELETE FROM pqw_job; $$",
    "a\x00b",
    "\ud800",
    "\\u0000",
    "[/b]oops",
    "[link=file:///etc/passwd]x[/link]",
    "\x1b[2J",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ ünïcödé",
    "",
    " ",
    "x" * 300,
    "pqw.persistent:feed",
    "mail",
    "default",
]
texts = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
odd = st.one_of(
    st.none(), st.just(object()), st.just({1, 2}), st.binary(max_size=5), st.just(b"\x00")
)
scalars = st.one_of(texts, numbers, st.none())
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(texts, st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)
anything = st.one_of(json_like, odd)
args_values = st.one_of(st.dictionaries(texts, json_like, max_size=4), anything)
unique_values = st.one_of(
    st.none(),
    st.just(True),
    st.builds(
        UniqueOpts,
        by_args=st.one_of(st.booleans(), st.lists(texts, max_size=2), texts),
        by_period=st.one_of(st.none(), st.timedeltas(), numbers),
        by_queue=st.one_of(st.booleans(), texts),
        by_state=st.one_of(st.none(), st.lists(st.sampled_from(list(JobState))), texts),
    ),
)
option_values = st.fixed_dictionaries(
    {},
    optional={
        "queue": st.one_of(texts, numbers),
        "priority": st.one_of(numbers, texts),
        "max_attempts": st.one_of(numbers, texts),
        "tags": st.one_of(st.lists(texts, max_size=3), texts, numbers),
        "metadata": args_values,
        "unique": unique_values,
        "scheduled_at": st.one_of(
            st.datetimes(timezones=st.just(UTC)), st.datetimes(), texts, numbers
        ),
    },
)

TABLES = ("pqw_job", "pqw_queue", "pqw_persistent_worker", "pqw_periodic_job")


async def snapshot(conn: asyncpg.Connection) -> dict[str, Any]:
    """Every row of pqw's tables, as text: equal snapshots, unchanged database."""
    state = {}
    for table in TABLES:
        # Table names are the constants above; nothing else goes into this statement.
        state[table] = await conn.fetchval(
            f"SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM {table} t"
        )
    return state


def allowed(exc: BaseException) -> bool:
    """A documented, clear error: pqw's own."""
    return isinstance(exc, PqwError)


async def attempt(conn: asyncpg.Connection, call: Callable[[], Any]) -> BaseException | None:
    """Run the call; on an error, check it is one of pqw's and that nothing changed."""
    before = await snapshot(conn)
    try:
        result = call()
        if asyncio.iscoroutine(result):
            await result
    except Exception as exc:
        assert allowed(exc), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        assert await snapshot(conn) == before, f"{exc} changed the database"
        return exc
    return None


_clients: dict[int, Client] = {}


def shared_client(make_client: Callable[..., Client]) -> Client:
    # One client for every example (hypothesis shares the fixture between them).
    client = _clients.get(id(make_client))
    if client is None:
        client = _clients[id(make_client)] = make_client()
    return client


@SHARED
@given(kind=texts, args=args_values, options=option_values)
async def test_insert_works_or_refuses_cleanly(
    make_client: Callable[..., Client],
    conn: asyncpg.Connection,
    kind: str,
    args: Any,
    options: dict[str, Any],
) -> None:
    client = shared_client(make_client)
    await attempt(conn, lambda: client.insert(kind, args, **options))


jobs_items = st.lists(
    st.one_of(
        st.tuples(texts, args_values),
        st.tuples(texts, args_values, st.one_of(st.none(), st.builds(InsertOpts), anything)),
        st.builds(JobSpec, kind=texts, args=args_values),
        anything,
        st.tuples(texts),
    ),
    max_size=4,
)


@SHARED
@given(jobs=st.one_of(jobs_items, anything))
async def test_insert_many_works_or_refuses_all(
    make_client: Callable[..., Client], conn: asyncpg.Connection, jobs: Any
) -> None:
    client = shared_client(make_client)
    await attempt(conn, lambda: client.insert_many(jobs))


@SHARED
@given(args=args_values, options=option_values, extra=st.dictionaries(texts, anything, max_size=1))
async def test_enqueue_works_or_refuses_cleanly(
    make_client: Callable[..., Client],
    conn: asyncpg.Connection,
    args: Any,
    options: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    client = shared_client(make_client)
    handler = _handlers.get(id(client))
    if handler is None:

        async def prop(job: Any) -> None: ...

        handler = _handlers[id(client)] = client.job("prop.kind")(prop)
    await attempt(conn, lambda: handler.enqueue(args, **options, **extra))


_handlers: dict[int, JobHandler[Any, Any]] = {}


schedules = st.one_of(
    st.builds(
        every,
        st.one_of(
            st.integers(1, 10**6), st.timedeltas(min_value=timedelta(1), max_value=timedelta(3000))
        ),
    ),
    st.builds(cron, st.sampled_from(["* * * * *", "0 2 * * *", "@hourly"])),
    anything,
)


@SHARED
@given(
    kind=texts,
    schedule=schedules,
    args=args_values,
    schedule_id=st.one_of(st.none(), texts, numbers),
    run_on_start=st.one_of(st.booleans(), texts),
    options=option_values,
)
async def test_periodic_definitions_work_or_refuse_cleanly(
    kind: Any,
    schedule: Any,
    args: Any,
    schedule_id: Any,
    run_on_start: Any,
    options: dict[str, Any],
) -> None:
    client = Client("postgresql://nobody@127.0.0.1:1/never")  # definitions need no database
    try:
        client.periodic(
            kind, schedule, args=args, id=schedule_id, run_on_start=run_on_start, **options
        )
    except Exception as exc:
        assert allowed(exc), f"{type(exc).__name__}: {exc}"
        assert client.periodic_jobs == []


@SHARED
@given(interval=anything, expression=anything, tz=anything)
def test_schedules_work_or_refuse_cleanly(interval: Any, expression: Any, tz: Any) -> None:
    for make in (lambda: every(interval), lambda: cron(expression, tz)):
        with contextlib.suppress(PqwError):
            make()


persistent_options = st.dictionaries(
    st.one_of(
        st.sampled_from(
            [
                "config",
                "config_type",
                "heartbeat_interval",
                "heartbeat_timeout",
                "queue",
                "restart_on_config_change",
                "stop_grace",
                "enabled",
                "heartbeat_timout",
            ]
        ),
        texts,
    ),
    st.one_of(anything, numbers, args_values, st.just(dict), st.just(int)),
    max_size=4,
)


@SHARED
@given(name=st.one_of(texts, numbers), options=persistent_options)
def test_persistent_definitions_work_or_refuse_cleanly(name: Any, options: dict[str, Any]) -> None:
    client = Client("postgresql://nobody@127.0.0.1:1/never", queues={"default": 1})

    async def handler(ctx: PersistentContext) -> None: ...

    try:
        client.persistent(name, **options)(handler)
    except Exception as exc:
        assert allowed(exc), f"{type(exc).__name__}: {exc}"
        assert client.persistent_manager.names == []


admin_calls: list[tuple[str, st.SearchStrategy[Any]]] = [
    ("get_job", st.tuples(st.one_of(numbers, texts))),
    ("cancel_job", st.tuples(st.one_of(numbers, texts))),
    ("retry_job", st.tuples(st.one_of(numbers, texts))),
    ("delete_job", st.tuples(st.one_of(numbers, texts))),
    ("pause_queue", st.tuples(st.one_of(texts, numbers))),
    ("resume_queue", st.tuples(st.one_of(texts, numbers))),
    ("start_worker", st.tuples(st.one_of(texts, numbers))),
    ("stop_worker", st.tuples(st.one_of(texts, numbers))),
    ("restart_worker", st.tuples(st.one_of(texts, numbers))),
    ("delete_worker", st.tuples(st.one_of(texts, numbers))),
    ("get_worker", st.tuples(st.one_of(texts, numbers))),
    ("list_persistent_workers", st.tuples(st.one_of(st.none(), texts, numbers))),
    ("set_worker_config", st.tuples(st.sampled_from(["feed", "[/b]oops", "a\x00"]), anything)),
    ("set_worker_config", st.tuples(st.just("feed"), args_values)),
    ("set_worker_config", st.tuples(st.just("feed"), texts)),
    ("enable_periodic", st.tuples(st.one_of(texts, numbers))),
    ("disable_periodic", st.tuples(st.one_of(texts, numbers))),
    ("delete_periodic", st.tuples(st.one_of(texts, numbers))),
    ("throughput", st.tuples(st.one_of(numbers, texts))),
    ("list_running_jobs", st.tuples()),
]
list_filters = st.fixed_dictionaries(
    {},
    optional={
        "queue": st.one_of(st.none(), texts, numbers),
        "state": st.one_of(st.none(), st.sampled_from(list(JobState)), texts, numbers),
        "kind": st.one_of(st.none(), texts, numbers),
        "before_id": st.one_of(st.none(), numbers, texts),
        "limit": st.one_of(numbers, texts),
    },
)


@pytest.fixture
async def seeded_admin(admin: Admin, conn: asyncpg.Connection) -> Admin:
    """An admin over a database holding a worker, a schedule and a few jobs to act on."""
    await conn.execute(
        "INSERT INTO pqw_persistent_worker (name, config) VALUES ('feed', '{\"a\": 1}'),"
        " ('[/b]oops', '{}')"
    )
    await conn.execute(
        "INSERT INTO pqw_periodic_job (id, kind, schedule, args, next_run_at)"
        " VALUES ('tick', 'tick', 'every 30s', '{}', now())"
    )
    await conn.execute(
        "INSERT INTO pqw_job (kind, queue, max_attempts, state, finalized_at)"
        " VALUES ('a', 'mail', 5, 'available', NULL), ('b', 'mail', 5, 'discarded', now())"
    )
    return admin


@SHARED
@given(call=st.sampled_from(admin_calls).flatmap(lambda c: st.tuples(st.just(c[0]), c[1])))
async def test_admin_actions_work_or_refuse_cleanly(
    seeded_admin: Admin, conn: asyncpg.Connection, call: tuple[str, tuple[Any, ...]]
) -> None:
    name, args = call
    method = getattr(seeded_admin, name)
    await attempt(conn, lambda: method(*args))


@SHARED
@given(filters=list_filters, limit=st.one_of(numbers, texts), min_running=numbers)
async def test_admin_reads_work_or_refuse_cleanly(
    seeded_admin: Admin,
    conn: asyncpg.Connection,
    filters: dict[str, Any],
    limit: Any,
    min_running: Any,
) -> None:
    await attempt(conn, lambda: seeded_admin.list_jobs(**filters))
    await attempt(conn, lambda: seeded_admin.list_running_jobs(min_running=min_running))
    await attempt(conn, lambda: seeded_admin.list_running_jobs(limit=limit))


def cli_argv(dsn: str) -> st.SearchStrategy[list[str]]:
    name = st.sampled_from(HOSTILE[:3] + HOSTILE[4:]).filter(lambda s: "\x00" not in s)
    words = st.one_of(
        name, st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=8)
    )
    command = st.one_of(
        st.tuples(st.just("queue"), st.sampled_from(["pause", "resume", "drop"]), words),
        st.tuples(
            st.just("persistent"),
            st.sampled_from(["start", "stop", "restart", "delete", "list", "nope"]),
            words,
        ),
        st.tuples(st.just("persistent"), st.just("config"), words, words),
        st.tuples(st.just("periodic"), st.sampled_from(["enable", "disable", "delete"]), words),
        st.tuples(st.just("migrate"), st.sampled_from(["status", "sideways"])),
    )
    return command.map(lambda c: [*c, "--dsn", dsn])


def cli_snapshot(dsn: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        conn = await connect(dsn)
        try:
            return await snapshot(conn)
        finally:
            await conn.close()

    return asyncio.run(read())


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_cli_commands_work_or_say_why_in_one_line(dsn: str, data: st.DataObject) -> None:
    argv = data.draw(cli_argv(dsn))
    before = cli_snapshot(dsn)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = pqw_main(argv)
        except SystemExit as exit:  # argparse: a usage error, told on stderr
            code = exit.code if isinstance(exit.code, int) else 2
    assert code in (0, 1, 2), (argv, code, err.getvalue())
    assert "Traceback" not in err.getvalue()
    if code != 0 and argv[:2] != ["queue", "resume"]:
        assert cli_snapshot(dsn) == before, argv


@pytest.mark.parametrize(
    "argv",
    [
        ["queue", "pause", "'; DROP TABLE pqw_job; --"],
        ["persistent", "config", "feed", '{"a": "\\u0000"}'],
        ["periodic", "delete", "$$ tick $$"],
    ],
)
async def test_cli_in_a_subprocess_refuses_hostile_arguments_in_one_line(
    dsn: str, conn: asyncpg.Connection, argv: list[str]
) -> None:
    await conn.execute("INSERT INTO pqw_persistent_worker (name) VALUES ('feed')")
    before = await snapshot(conn)
    result = await asyncio.to_thread(run_pqw, *argv, "--dsn", dsn)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert await snapshot(conn) == before
    assert await conn.fetchval("SELECT to_regclass('pqw_job') IS NOT NULL")


# Calls that send SQL: their statement must be a name (engine/sql's constants), never
# text built from values at the call.
SQL_CALLS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "_prepare"}
# Statements built at the call on purpose, each with its reason.
BUILT_ON_PURPOSE = {
    # DDL takes no bind parameters; the name is a fixed prefix and this process's pid.
    "engine/cli/bench/figure.py",
    # The same for the kept dashboard table's database: a fixed prefix and two ints.
    "engine/cli/bench/dashboard.py",
    # The pytest plugin's databases: DDL again, names it made and validated (quote_ident),
    # and ALTER SYSTEM with its own constant settings.
    "engine/testing/pytest_plugin.py",
    # Counts a search that engine/sql.search_jobs composed (fragments and $n placeholders).
    "engine/admin/job_search.py",
}
# engine/sql modules that compose a statement per filter: only constant fragments and
# the $n placeholders of bind parameters go into it (see each module's docstring).
COMPOSED_ON_PURPOSE = {"job_search.py"}


def built_statements(path: str) -> list[int]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
            and node.args
            and isinstance(node.args[0], ast.JoinedStr | ast.BinOp | ast.Call)
        ):
            lines.append(node.lineno)
    return lines


def constants_only(expression: ast.expr, also: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether the expression reads nothing but module constants (UPPER_CASE names),
    builtins that make values from them (range), the names its own comprehensions
    bind, and `also`."""
    bound = {
        target.id
        for node in ast.walk(expression)
        if isinstance(node, ast.comprehension)
        for target in ast.walk(node.target)
        if isinstance(target, ast.Name)
    }
    names = {n.id for n in ast.walk(expression) if isinstance(n, ast.Name)}
    return all(name.isupper() or name in bound or name in also or name == "range" for name in names)


def test_no_sql_is_built_from_values() -> None:
    """Every SQL value is a bind parameter: no statement is an f-string, a % or a
    concatenation at the place it runs, outside engine/sql's named constants."""
    built = {}
    for package in ("engine", "tui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            lines = built_statements(relative)
            if lines and relative not in BUILT_ON_PURPOSE:
                built[relative] = lines
    assert built == {}
    # engine/sql formats only its own constants (column lists, a shared CTE) into statements.
    for path in sorted((ROOT / "engine" / "sql").glob("*.py")):
        if path.name in COMPOSED_ON_PURPOSE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        over_constants = constant_loop_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.FormattedValue):
                allowed = over_constants.get(id(node), set())
                assert constants_only(node.value, allowed), (
                    f"{path.name}:{node.lineno} formats a value"
                )


def constant_loop_names(tree: ast.AST) -> dict[int, set[str]]:
    """For each f-string part inside a comprehension over constants only (a range of
    constants, say), the names that comprehension binds: constants too."""
    allowed: dict[int, set[str]] = {}
    for comp in ast.walk(tree):
        if not isinstance(comp, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if not all(constants_only(g.iter) and not g.ifs for g in comp.generators):
            continue
        names = {
            t.id for g in comp.generators for t in ast.walk(g.target) if isinstance(t, ast.Name)
        }
        for inner in ast.walk(comp):
            if isinstance(inner, ast.FormattedValue):
                allowed.setdefault(id(inner), set()).update(names)
    return allowed


@pytest.mark.parametrize("min_running", [1e300, 366 * 86_400 + 1])
async def test_a_running_time_past_a_year_is_refused_before_postgres_overflows(
    admin: Admin, min_running: float
) -> None:
    # Found by the property test above: 1e300 seconds reached Postgres as "interval out of range".
    with pytest.raises(InvalidJobOption, match="min_running must be at most a year"):
        await admin.list_running_jobs(min_running=min_running)
    assert isinstance(await admin.list_running_jobs(min_running=366 * 86_400), list)


@given(value=json_like)
def test_unique_keys_hash_the_same_text_as_json_dumps_did(value: Any) -> None:
    """Unique keys are sha256 of canonical JSON: its text must stay the one
    json.dumps(sort_keys=True) gave, or live jobs would stop blocking new duplicates."""
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:  # keys of mixed types cannot be sorted
        with pytest.raises(type(exc)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@given(
    args=st.dictionaries(st.one_of(texts, st.integers()), json_like, max_size=4),
    by_queue=st.booleans(),
)
def test_a_key_over_the_whole_args_is_the_one_unique_key_computes(
    args: Any, by_queue: bool
) -> None:
    """A key over all the args is hashed from the sorted text that is also stored (one
    encoding per row): it must stay the key unique_key() gives, which live jobs hold."""
    opts = UniqueOpts(by_args=True, by_queue=by_queue)
    template = template_for("mail.send", InsertOpts(queue="mail", unique=opts))
    try:
        row = template.row(args)
    except PqwError:
        # Refused as before: args that cannot be stored, or keys that cannot be sorted.
        with pytest.raises((PqwError, TypeError)):
            encode_object("args", args)
            unique_key("mail.send", args, "mail", None, opts)
        return
    assert row.unique_key == unique_key("mail.send", args, "mail", None, opts)
    assert json.loads(row.args_json) == json.loads(json.dumps(args))
