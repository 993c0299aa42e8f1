"""Typed persistent-worker configs: a small JSON Schema derived from a dataclass or TypedDict.

The schema is stored with the worker, so the admin API (in a process that never
imports the worker's code, such as the dashboard) can refuse a bad config with
a message before anything changes.
"""

from __future__ import annotations

import dataclasses
import reprlib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict

from engine.db import json_text
from engine.db.storable import json_problem
from engine.errors import InvalidConfig

Schema = dict[str, Any]

# A config is read with every overview (the dashboard, each second) and by every
# run: small settings, not data. Keep large data in a table and name it here.
CONFIG_MAX_BYTES = 256 * 1024
# A refusal names this many problems at most (a message, not a report).
ERRORS_SHOWN = 10

_SCALARS: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def schema_for_type(tp: Any) -> Schema:
    """The schema of one annotation (str, int, float, bool, list[X], dict[str, X], X | None, Literal)."""
    if tp is Any:
        return {}
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [schema_for_type(arg) for arg in get_args(tp)]}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if tp is type(None):
        return {"type": "null"}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        args = get_args(tp)
        return {"type": "array", "items": schema_for_type(args[0]) if args else {}}
    if origin in (dict, typing.Mapping) or tp is dict:
        args = get_args(tp)
        return {
            "type": "object",
            "additionalProperties": schema_for_type(args[1]) if len(args) == 2 else {},
        }
    if dataclasses.is_dataclass(tp) or is_typeddict(tp):
        return config_schema(tp)
    raise TypeError(f"config field type {tp!r} is not supported (use JSON-like types)")


def config_schema(config_type: Any) -> Schema:
    """The schema of a dataclass or TypedDict config type."""
    hints = get_type_hints(config_type)
    if dataclasses.is_dataclass(config_type):
        required = [
            f.name
            for f in dataclasses.fields(config_type)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
    elif is_typeddict(config_type):
        required = sorted(config_type.__required_keys__)
    else:
        raise TypeError(f"config type must be a dataclass or TypedDict, got {config_type!r}")
    return {
        "title": config_type.__name__,
        "type": "object",
        "properties": {name: schema_for_type(tp) for name, tp in hints.items()},
        "required": required,
        "additionalProperties": False,
    }


def _type_ok(expected: str, value: Any) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, Mapping)
    if expected == "null":
        return value is None
    return True


def schema_errors(schema: Schema, value: Any, path: str = "config") -> list[str]:
    """Every way value breaks the schema, as readable lines (empty when it fits)."""
    if "anyOf" in schema:
        options = [schema_errors(option, value, path) for option in schema["anyOf"]]
        if all(options):
            return [f"{path}: {reprlib.repr(value)} matches none of the allowed types"]
        return []
    if "enum" in schema:
        if value not in schema["enum"]:
            return [f"{path}: must be one of {schema['enum']!r}, got {reprlib.repr(value)}"]
        return []
    expected = schema.get("type")
    if expected and not _type_ok(expected, value):
        return [f"{path}: expected {expected}, got {type(value).__name__} {reprlib.repr(value)}"]
    errors: list[str] = []
    if expected == "array":
        for i, item in enumerate(value):
            errors += schema_errors(schema.get("items", {}), item, f"{path}[{i}]")
    if expected == "object":
        props: dict[str, Schema] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required field {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += schema_errors(props[key], item, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unknown field {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(extra, item, f"{path}.{key}")
    return errors


def validate_config(schema: Schema | None, config: Any) -> dict[str, Any]:
    """The config as a dict Postgres can store (JSON, no NUL, at most CONFIG_MAX_BYTES),
    or InvalidConfig naming every problem."""
    if not isinstance(config, Mapping):
        raise InvalidConfig(f"config must be a JSON object, got {type(config).__name__}")
    checked: dict[str, Any] = dict(config)
    encode_config(checked)
    if schema:
        errors = schema_errors(schema, checked)
        if len(errors) > ERRORS_SHOWN:
            errors[ERRORS_SHOWN:] = [f"and {len(errors) - ERRORS_SHOWN} more"]
        if errors:
            raise InvalidConfig("invalid config: " + "; ".join(errors))
    return checked


def encode_config(config: Mapping[str, Any]) -> str:
    """The config as JSON text Postgres can store, or InvalidConfig saying why not."""
    try:
        text = json_text.dumps(config)
    except (TypeError, ValueError) as exc:
        raise InvalidConfig(f"config must be JSON-serializable: {exc}") from exc
    problem = json_problem(text, CONFIG_MAX_BYTES)
    if problem is not None:
        raise InvalidConfig(f"config {problem}")
    return text


def typed_config(config_type: Any, config: Mapping[str, Any]) -> Any:
    """An instance of the config type (a dataclass), or the dict itself (TypedDict, None)."""
    if isinstance(config_type, type) and dataclasses.is_dataclass(config_type):
        return config_type(**config)
    return dict(config)
