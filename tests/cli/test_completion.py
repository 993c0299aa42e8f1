"""`pqw completion bash`: bash completes commands, actions, options and option values."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess

import pytest

from tests.cli.runner import pqw


def complete(script: str, *words: str) -> list[str]:
    """What bash offers at the last of `words` (`pqw jobs li` -> ["list"])."""
    probe = "\n".join(
        [
            script,
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})",
            f"COMP_CWORD={len(words) - 1}",
            "_pqw",
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
async def test_bash_completes_from_the_parser() -> None:
    printed = await pqw(None, "completion", "bash")
    assert printed.code == 0 and "complete -F _pqw pqw" in printed.out
    script = printed.out
    cases = [
        (("pqw", "jo"), ["jobs"]),
        (("pqw", "jobs", ""), ["list", "show", "failures", "retry", "cancel", "delete"]),
        (("pqw", "persistent", "res"), ["restart", "reset-state"]),
        (("pqw", "queues", "scale", "mail", "--j"), ["--json"]),
        (("pqw", "jobs", "retry", "--state", "di"), ["discarded"]),
        (("pqw", "migrate", "s"), ["status"]),
        (("pqw", "nope", ""), []),
        (
            ("pqw", "workers", "show", "feed", "--"),
            ["--help", "--dsn", "--direct-dsn", "--pool-mode", "--json"],
        ),
    ]
    results = await asyncio.gather(*(asyncio.to_thread(complete, script, *w) for w, _ in cases))
    for (words, expected), offered in zip(cases, results, strict=True):
        assert sorted(offered) == sorted(expected), words
