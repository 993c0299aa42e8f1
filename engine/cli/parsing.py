"""pqw's argument parser: one-line usage errors (exit 2), and commands with examples."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (with where to read more)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_command(
    commands: Any,
    name: str,
    *,
    help: str,
    examples: Sequence[str],
    aliases: Sequence[str] = (),
    run: Any = None,
) -> Parser:
    """A subcommand (of `commands`, an add_subparsers() result) whose --help ends with
    examples; `run` is the coroutine function main calls with the parsed arguments."""
    parser: Parser = commands.add_parser(
        name,
        aliases=list(aliases),
        help=help,
        description=help[:1].upper() + help[1:] + ".",
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if run is not None:
        parser.set_defaults(run=run)
    return parser


def add_actions(parser: argparse.ArgumentParser) -> Any:
    """The subcommands of a command group (`pqw jobs list`, `pqw jobs show`...)."""
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` (to `high`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if high is None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    return parse


positive = whole_number(1)
