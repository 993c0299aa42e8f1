"""Run `pqw` in-process, as its entry point does, and capture what it says and its exit code."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
from dataclasses import dataclass
from typing import Any

from engine.cli.main import main

# For usage errors, told before any connection: nothing listens there.
NO_DATABASE = "postgresql://pqw@127.0.0.1:1/none"


class Terminal(io.StringIO):
    """Standard input that is a terminal: the questions are asked, and answered from it."""

    def isatty(self) -> bool:
        return True


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def _run(argv: list[str], stdin: io.StringIO) -> Result:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit:  # argparse: --help (0), a usage error (2)
                code = exit.code if isinstance(exit.code, int) else 2
    finally:
        sys.stdin = saved
    return Result(code, out.getvalue(), err.getvalue())


async def pqw(dsn: str | None, *argv: str, answer: str | None = None) -> Result:
    """`pqw ARGV --dsn DSN` in a thread (main runs its own event loop). `answer`: what the
    operator types on a terminal ("y\n"; "" is ctrl-d); None: no terminal (a script, CI)."""
    stdin = Terminal(answer) if answer is not None else io.StringIO("")
    where = ["--dsn", dsn] if dsn is not None else []  # None: a command that takes none
    return await asyncio.to_thread(_run, [*argv, *where], stdin)
