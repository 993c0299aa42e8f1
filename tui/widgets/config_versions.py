"""A worker's config versions, who made each and when, and what each changed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text

from engine.admin import ConfigVersion
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable

# A changed value is shown up to this many characters.
VALUE_WIDTH = 60


def _value(value: Any) -> str:
    return fmt.one_line(json.dumps(value, ensure_ascii=False, default=str), VALUE_WIDTH)


def config_diff(
    before: dict[str, Any] | None, after: dict[str, Any], palette: Palette
) -> list[Text]:
    """What a version changed, key by key: "+ key: value", "- key: value",
    "~ key: old → new" (the first version: every key, added)."""
    old = before or {}
    lines: list[Text] = []
    for key in sorted(set(old) | set(after)):
        if key not in old:
            lines.append(Text(f"+ {key}: {_value(after[key])}", style=palette.good))
        elif key not in after:
            lines.append(Text(f"- {key}: {_value(old[key])}", style=palette.bad))
        elif old[key] != after[key]:
            lines.append(
                Text.assemble(
                    (f"~ {key}: ", palette.warn),
                    (_value(old[key]), palette.bad),
                    " → ",
                    (_value(after[key]), palette.good),
                )
            )
    return lines or [Text("(the same config)", style="dim")]


def version_diff(versions: list[ConfigVersion], version: int, palette: Palette) -> Text:
    """The diff of `version` against the one before it (versions newest first)."""
    index = next((i for i, v in enumerate(versions) if v.version == version), None)
    if index is None:
        return Text("")
    chosen = versions[index]
    previous = versions[index + 1] if index + 1 < len(versions) else None
    if previous is None and chosen.version > 1:
        title = f"v{chosen.version} (the versions before it are no longer kept)"
        return Text.assemble((title, "bold"), "\n", _json_block(chosen.config))
    title = f"v{previous.version} → v{chosen.version}" if previous else "v1, as first defined"
    body = config_diff(previous.config if previous else None, chosen.config, palette)
    return Text("\n").join([Text(title, style="bold"), *body])


def _json_block(config: dict[str, Any]) -> Text:
    return Text(json.dumps(config, indent=2, ensure_ascii=False, default=str), style="dim")


def version_cells(v: ConfigVersion, now: datetime, current: int) -> list[Cell]:
    mark = "●" if v.version == current else " "
    return [
        Text(f"{mark} v{v.version}", style="bold" if v.version == current else ""),
        Text(v.changed_by),
        Text(fmt.ago((now - v.changed_at).total_seconds()), style="dim"),
    ]


class ConfigVersionsTable(KeyedTable):
    COLUMNS = (("version", "Version"), ("by", "Changed by"), ("when", "When"))

    def show(self, versions: list[ConfigVersion], now: datetime, current: int) -> None:
        self.sync({str(v.version): version_cells(v, now, current) for v in versions})

    @property
    def selected_version(self) -> int | None:
        key = self.selected_key
        return int(key) if key is not None else None
