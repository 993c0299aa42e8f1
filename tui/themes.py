"""The dashboard's own theme, registered next to Textual's built-in ones."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.theme import BUILTIN_THEMES, Theme

DEFAULT_THEME = "pqw"

PQW_THEMES = (
    Theme(
        name="pqw",
        primary="#5FA8D3",
        secondary="#62B6CB",
        accent="#F4A261",
        warning="#E9C46A",
        error="#E76F51",
        success="#8AC926",
        foreground="#DDE3EA",
        background="#0F1419",
        surface="#161C23",
        panel="#1E2630",
        dark=True,
    ),
    Theme(
        name="pqw-light",
        primary="#1F6FA8",
        secondary="#2A7F8F",
        accent="#B5541C",
        warning="#9A6700",
        error="#B3261E",
        success="#2E7D32",
        foreground="#1B2430",
        background="#F7F9FB",
        surface="#EEF2F6",
        panel="#E1E7EE",
        dark=False,
    ),
)


def theme_names() -> list[str]:
    """Every name `--theme` accepts."""
    return sorted({*BUILTIN_THEMES, *(t.name for t in PQW_THEMES)})


def register_themes(app: App[Any]) -> None:
    for theme in PQW_THEMES:
        app.register_theme(theme)
