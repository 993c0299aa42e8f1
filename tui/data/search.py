"""The jobs screen's `/` line: `kind:email.*`, `args.customer=7`, `meta.team=ops`, `id:123`,
`queue:mail`, `state:retryable`, and any other words as free text over the args."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from engine.admin import JobQuery, JobState
from tui.data.jobs_window import JobFilter


class SearchError(ValueError):
    """The line cannot be read; str() says which word and why."""


def _value(text: str) -> Any:
    """`7` is a number, `true` a boolean, `"7"` or `ops` a string: as JSON where it parses."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_search(line: str, base: JobFilter) -> JobFilter:
    """`base` (the queue and state already chosen) narrowed by the words of `line`;
    an empty line clears the search."""
    where = replace(base, kind=None, args=None, metadata=None, text=None, job_id=None)
    args: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    text: list[str] = []
    for word in line.split():
        key, colon, rest = word.partition(":")
        if colon and key in ("kind", "id", "queue", "state"):
            if not rest:
                raise SearchError(f"{key}: needs a value")
            if key == "kind":
                where = replace(where, kind=rest)
            elif key == "queue":
                where = replace(where, queue=rest)
            elif key == "state":
                try:
                    where = replace(where, state=JobState(rest))
                except ValueError:
                    states = ", ".join(s.value for s in JobState)
                    raise SearchError(f"no state {rest!r}; one of {states}") from None
            else:
                if not rest.isdigit():
                    raise SearchError(f"id:{rest} is not a job id")
                where = replace(where, job_id=int(rest))
            continue
        path, equals, value = word.partition("=")
        head, dot, field = path.partition(".")
        if equals and dot and head in ("args", "meta", "metadata"):
            if not field:
                raise SearchError(f"{word}: name the field, as in args.customer=7")
            target = args if head == "args" else metadata
            target[field] = _value(value)
            continue
        text.append(word)
    return replace(
        where,
        args=args or None,
        metadata=metadata or None,
        text=" ".join(text) or None,
    )


def search_line(where: JobFilter) -> str:
    """The `/` line that gives `where`'s search back (to edit it)."""
    words = []
    if where.kind is not None:
        words.append(f"kind:{where.kind}")
    if where.job_id is not None:
        words.append(f"id:{where.job_id}")
    words += [f"args.{k}={json.dumps(v)}" for k, v in (where.args or {}).items()]
    words += [f"meta.{k}={json.dumps(v)}" for k, v in (where.metadata or {}).items()]
    if where.text:
        words.append(where.text)
    return " ".join(words)


def to_query(where: JobFilter) -> JobQuery:
    return JobQuery(
        queue=where.queue,
        states=(where.state,) if where.state is not None else where.states,
        kind=where.kind,
        job_id=where.job_id,
        args=where.args,
        metadata=where.metadata,
        text=where.text,
    )


FAILURES = (JobState.RETRYABLE, JobState.DISCARDED)


def describe_filter(where: JobFilter) -> str:
    """ "retryable email.send jobs in mail": what the filter selects, in words."""
    states = [str(where.state)] if where.state is not None else [str(s) for s in where.states]
    words = [" and ".join(states)] if states else []
    words += [where.kind] if where.kind is not None else []
    words += ["jobs", f"in {where.queue}" if where.queue is not None else "in any queue"]
    search = search_line(replace(where, kind=None))
    if search:
        words.append(f"matching {search}")
    return " ".join(words)
