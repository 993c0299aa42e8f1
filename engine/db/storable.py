"""What Postgres can store: text without NUL or lone surrogates, JSON within a size limit.

Left to the driver and the server, these problems surface late and raw: a lone
surrogate as a UnicodeEncodeError in asyncpg's encoder, a NUL as the server's
UntranslatableCharacterError ("unsupported Unicode escape sequence" in jsonb,
"invalid byte sequence" in text). pqw asks these functions first, before
anything is sent, and turns the answer into a clear error naming the field.
Each returns None when the value can be stored, else what is wrong, as words
that follow the field's name ("args " + problem).
"""

from __future__ import annotations

import re

NUL_TEXT = "contains a NUL character (\\x00), which Postgres cannot store in text"
NUL_JSON = "contains a NUL character (\\u0000), which Postgres cannot store in jsonb"

# A \u0000 escape in JSON text: preceded by an even number of backslashes (an odd
# run would make its first backslash an escaped one: the literal text "\u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# C0 and C1 control characters and DEL: never part of a name, and on a terminal
# the start of an escape sequence (a name shown by the dashboard must not be one).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _surrogate(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"contains a lone surrogate ({text[exc.start]!r} at position {exc.start}), "
            "which is not valid UTF-8"
        )
    return None


def text_problem(text: str) -> str | None:
    """What stops Postgres from storing `text` in a text column, or None."""
    if "\x00" in text:
        return NUL_TEXT
    return _surrogate(text)


def name_problem(text: str) -> str | None:
    """What makes `text` unfit as a name (a kind, worker, tag, schedule id), or None:
    anything text_problem finds, and control characters."""
    problem = text_problem(text)
    if problem is not None:
        return problem
    control = _CONTROL.search(text)
    if control is not None:
        return f"contains a control character ({control.group()!r} at position {control.start()})"
    return None


def size_label(n: int) -> str:
    """1536 -> "1.5 KiB": a byte count as people read it."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def json_size(text: str) -> int:
    """The size in bytes of JSON text pqw encoded (UTF-8); the text must have no lone
    surrogate (json_problem says so first)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def json_problem(text: str, max_bytes: int) -> str | None:
    """What stops Postgres from storing this JSON text (as pqw encodes it: non-ASCII
    characters as themselves) in a jsonb column of at most `max_bytes`, or None."""
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        return NUL_JSON
    problem = _surrogate(text)
    if problem is not None:
        return problem
    size = json_size(text)
    if size > max_bytes:
        return f"is {size_label(size)} as JSON, over the limit of {size_label(max_bytes)}"
    return None


def storable_text(text: str, limit: int) -> str:
    """`text` made storable, for what pqw records rather than refuses (a handler's error):
    NUL shown as \\x00, lone surrogates as their escapes, cut to `limit` characters."""
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit:,} more characters cut)"
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
