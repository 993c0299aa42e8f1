"""JSON text for job args and other jsonb values, fast enough for bulk inserts.

json.dumps builds a new C encoder on every call, which costs about as much as
the encoding of a small dict; at 100,000 rows a second that is most of the
Python time of a bulk insert. This builds the C encoder once and reuses it.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

# None on an interpreter without the C accelerator (then the plain encoder is used).
c_make_encoder = getattr(json.encoder, "c_make_encoder", None)


def _unsupported(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class RawJson(str):
    """JSON text already encoded (and so already validated); the codec sends it as is."""

    __slots__ = ()


_FALLBACK = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

_encode: Callable[[Any, int], Any] | None = (
    # markers=None: no cycle tracking (a cycle ends in RecursionError, caught below);
    # then default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan.
    c_make_encoder(
        None, _unsupported, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if c_make_encoder is not None
    else None
)


# The same, with keys sorted and no cycle tracking either: unique keys hash this text.
# It must stay byte for byte what json.dumps(value, sort_keys=True,
# separators=(",", ":"), ensure_ascii=False) gives, the text keys were hashed from
# before, or new inserts would stop meeting the live jobs they duplicate.
_encode_sorted: Callable[[Any, int], Any] | None = (
    c_make_encoder(
        None, _unsupported, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if c_make_encoder is not None
    else None
)


# The same again, refusing NaN and infinities as dumps does: text that is both
# stored (jsonb has no NaN) and hashed, for keys over a job's whole args. For
# what it accepts, it gives the text dumps_sorted gives.
_encode_sorted_strict: Callable[[Any, int], Any] | None = (
    c_make_encoder(
        None, _unsupported, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
    if c_make_encoder is not None
    else None
)


def dumps_sorted(value: Any, *, allow_nan: bool = True) -> str:
    """Compact JSON with sorted keys, for hashing: key order never matters."""
    encode = _encode_sorted if allow_nan else _encode_sorted_strict
    if encode is None:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan
        )
    try:
        return "".join(encode(value, 0))
    except RecursionError:
        raise ValueError("circular reference (or nesting too deep)") from None


def dumps(value: Any) -> str:
    """Compact JSON text; TypeError/ValueError for what JSON cannot hold (NaN, sets, cycles)."""
    if _encode is None:
        return _FALLBACK.encode(value)
    try:
        return "".join(_encode(value, 0))
    except RecursionError:
        raise ValueError("circular reference (or nesting too deep)") from None


_DECODER = json.JSONDecoder()
_EMPTY_OBJECT = b"\x01{}"
_EMPTY_ARRAY = b"\x01[]"


def loads_jsonb(data: bytes) -> Any:
    """A jsonb value from its binary format (a version byte, then the JSON text).

    Postgres sends jsonb as canonical text (no whitespace around the value), so
    the decoder's raw_decode reads it without json.loads' encoding detection and
    trailing-whitespace scan; the empty object and array (a job's usual errors
    and metadata) need no decoder at all. Each call returns a new object.
    """
    if data == _EMPTY_OBJECT:
        return {}
    if data == _EMPTY_ARRAY:
        return []
    return _DECODER.raw_decode(data[1:].decode())[0]
