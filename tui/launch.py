"""From the command line to a database the dashboard can open: options, checks, the demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.admin import (
    POOL_MODES,
    PqwError,
    check_reachable,
    configured_dsn,
    migrate_to_latest,
    resolve_dsn,
)
from tui.data.refresh import seconds_label
from tui.dev.demo import DEMO_COMMAND, DemoProcess
from tui.signals import run_interruptibly
from tui.themes import DEFAULT_THEME, theme_names


@dataclass(frozen=True)
class Options:
    dsn: str | None = None
    direct_dsn: str | None = None
    pool_mode: str | None = None
    read_only: bool = False
    refresh: float = 1.0
    theme: str = DEFAULT_THEME
    demo: bool = False


class StartupError(Exception):
    """The dashboard cannot start; str() is the one line the user sees."""


def _refresh_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(
            f"must be between 0.1 and 3600 seconds, got {seconds_label(value)}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pqw-tui",
        description="Live terminal dashboard for pqw: queues, persistent workers, clients.",
    )
    parser.add_argument(
        "--dsn",
        help="Postgres URL (default: $PQW_DATABASE_URL, $DATABASE_URL, else the embedded server)",
    )
    parser.add_argument(
        "--direct-dsn",
        help="Postgres itself, when --dsn is a transaction pooler (default: $PQW_DIRECT_URL)",
    )
    parser.add_argument(
        "--pool-mode",
        choices=POOL_MODES,
        help="how the --dsn URL pools connections (default: $PQW_POOL_MODE; else "
        "transaction when a direct URL is given, session when not)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="hide and refuse every action (a role without write grants gets this by itself)",
    )
    parser.add_argument(
        "--refresh",
        type=_refresh_seconds,
        default=1.0,
        metavar="SECONDS",
        help="seconds between refreshes (default 1; + and - change it live)",
    )
    parser.add_argument(
        "--theme",
        default=DEFAULT_THEME,
        metavar="NAME",
        help=f"colour theme (default {DEFAULT_THEME}; one of: {', '.join(theme_names())})",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="migrate the database and run demo workers in a child process while the dashboard is open",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line; argparse exits with a usage line on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.theme not in theme_names():
        parser.error(f"unknown theme {args.theme!r}; choose one of: {', '.join(theme_names())}")
    if args.demo and args.read_only:
        parser.error("--demo changes its database (it migrates it): it cannot be --read-only")
    return Options(
        dsn=args.dsn,
        direct_dsn=args.direct_dsn,
        pool_mode=args.pool_mode,
        read_only=args.read_only,
        refresh=args.refresh,
        theme=args.theme,
        demo=args.demo,
    )


@dataclass
class Launch:
    """What main started for the dashboard, to be stopped when it quits."""

    dsn: str
    demo: DemoProcess | None = None
    direct_dsn: str | None = None
    pool_mode: str | None = None

    def close(self) -> None:
        if self.demo is not None:
            code = self.demo.stop()
            if code:
                print(
                    f"pqw-tui: a demo worker process ended with code {code}; "
                    f"its log is kept in {self.demo.log_path}",
                    file=sys.stderr,
                )


def prepare(
    options: Options,
    *,
    demo_command: Sequence[str] = DEMO_COMMAND,
    demo_log: Path | None = None,
) -> Launch:
    """Resolve and check the database; for --demo migrate it and start the demo workers."""
    if configured_dsn(options.dsn) is None:
        print(
            "pqw-tui: no database URL given (--dsn, PQW_DATABASE_URL, DATABASE_URL); "
            "using the embedded PostgreSQL",
            file=sys.stderr,
        )
    try:
        dsn = resolve_dsn(options.dsn)
    except Exception as exc:
        raise StartupError(f"cannot start the embedded PostgreSQL: {exc}") from exc
    try:
        if options.demo:
            run_interruptibly(migrate_to_latest(dsn, options.direct_dsn, options.pool_mode))
        else:
            # An unreachable database is one line at the prompt now, rather than
            # a banner in an empty dashboard.
            run_interruptibly(check_reachable(dsn, options.direct_dsn, options.pool_mode))
    except PqwError as exc:
        raise StartupError(str(exc)) from exc
    demo = None
    if options.demo:
        try:
            demo = DemoProcess.start(dsn, demo_log, demo_command)
        except OSError as exc:
            raise StartupError(f"cannot start the demo workers: {exc}") from exc
    return Launch(dsn, demo, options.direct_dsn, options.pool_mode)
