"""`pqw completion bash`: tab completion for bash, from the
parser itself, so a new command or option completes without anyone writing it down.

It completes commands, actions, options and the values of options with choices
(`--state`, `--pool-mode`); not names from the database (that would connect on every tab).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from engine.cli.parsing import add_command

Words = dict[str, list[str]]

TEMPLATE = """# pqw completion for bash; load it with: eval "$(pqw completion bash)"
_pqw() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local path="pqw" word words=""
    for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        case "$path $word" in
            %(paths)s) path="$path $word" ;;
            *) case "$path" in %(groups)s) path="?" ;; esac ;;  # an unknown command
        esac
    done
    case "$path $prev" in
%(values)s
    esac
    if [ -z "$words" ]; then
        local options=""
        case "$path" in
%(words)s
        esac
        # Options once a dash is typed; commands, actions and choices before.
        if [[ "$cur" == -* ]]; then words="$options"; fi
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _pqw pqw
"""


def _walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, list[str], Words]]:
    """(path, the words that may follow it, the values of its options with choices)."""
    words: list[str] = []
    values: Words = {}
    children: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.append(name)
                children.append((f"{path} {name}", sub))
        elif action.option_strings:
            words.extend(action.option_strings)
            if action.choices:
                for option in action.option_strings:
                    values[f"{path} {option}"] = [str(c) for c in action.choices]
        elif action.choices:
            words.extend(str(c) for c in action.choices)
    yield path, words, values
    for child_path, child in children:
        yield from _walk(child, child_path)


def _case(key: str, words: list[str], indent: str) -> str:
    return f'{indent}"{key}") words="{" ".join(words)}" ;;'


def _path_case(key: str, words: list[str], indent: str) -> str:
    plain = " ".join(w for w in words if not w.startswith("-"))
    options = " ".join(w for w in words if w.startswith("-"))
    return f'{indent}"{key}") words="{plain}" options="{options}" ;;'


def bash_script(parser: argparse.ArgumentParser) -> str:
    tree = list(_walk(parser, "pqw"))
    paths = "|".join(f'"{path}"' for path, _, _ in tree[1:])
    # The paths a command or action must follow: a parent of another path.
    parents = dict.fromkeys(path.rsplit(" ", 1)[0] for path, _, _ in tree[1:])
    groups = "|".join(f'"{path}"' for path in parents)
    values = [
        _case(key, choices, " " * 8) for _, _, found in tree for key, choices in found.items()
    ]
    words = [_path_case(path, found, " " * 12) for path, found, _ in tree]
    return TEMPLATE % {
        "paths": paths,
        "groups": groups,
        "values": "\n".join(values),
        "words": "\n".join(words),
    }


async def cmd_completion(args: argparse.Namespace) -> int:
    print(bash_script(args.root), end="")
    return 0


def configure(commands: Any, root: argparse.ArgumentParser) -> None:
    """`pqw completion` under `commands`, completing every command of `root`."""
    p = add_command(
        commands,
        "completion",
        help="print bash's tab completion for pqw",
        examples=["pqw completion bash > ~/.pqw-completion", 'eval "$(pqw completion bash)"'],
        run=cmd_completion,
    )
    p.add_argument("shell", choices=["bash"])
    p.set_defaults(root=root)
