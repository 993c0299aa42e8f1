"""Edit a persistent worker's config as JSON; a bad value is shown here and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import humanize
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from engine.admin import WorkerInfo
from tui import formatting as fmt
from tui.data.feed import ActionFailed

SaveConfig = Callable[[dict[str, Any]], Awaitable[int]]

EDITOR_LINES = 12
EDITOR_MIN_LINES = 5
# A config longer than this (as indented JSON) is shown cut and read-only: editing
# only the part on screen and saving it would throw the rest away.
EDIT_CHARS = 64 * 1024


class ConfigError(ValueError):
    """The editor's text is not a config; str() says where and why."""


def parse_config(text: str) -> dict[str, Any]:
    """The editor's text as a config object, or ConfigError naming the line and column."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(value, dict):
        raise ConfigError(f"the config must be a JSON object {{...}}, not {type(value).__name__}")
    return value


def _type_name(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "any"))


def schema_hint(schema: dict[str, Any] | None) -> str:
    """The config's fields in one line: "url: string (required) · interval_s: number"."""
    if not schema or not schema.get("properties"):
        return "No schema: any JSON object is accepted."
    required = set(schema.get("required", []))
    fields = [
        f"{name}: {_type_name(field)}{' (required)' if name in required else ''}"
        for name, field in schema["properties"].items()
    ]
    return "Fields: " + " · ".join(fields)


def too_large_note(name: str, size: int) -> Text:
    return Text(
        f"This config is {humanize.naturalsize(size, binary=True)} of JSON: only its start "
        f"is shown, and it cannot be edited here. Change it with "
        f"`pqw persistent config {name} - < config.json`.",
        style="bold",
    )


class ReconfigureScreen(ModalScreen[int | None]):
    """Dismissed with the new config version, or None when cancelled."""

    BINDINGS = [
        # Not a priority binding: those run before keys still queued for the editor,
        # so a fast typist's last characters would miss the save.
        Binding("ctrl+s", "save", "Save", tooltip="Validate and save the config"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without changing anything"),
    ]

    def __init__(self, worker: WorkerInfo, save: SaveConfig) -> None:
        super().__init__(id="reconfigure")
        self.worker = worker
        self._save = save
        self.editable = True  # False for a config too large to edit here

    def compose(self) -> ComposeResult:
        w = self.worker
        with Vertical(id="reconfigure-dialog") as dialog:
            dialog.border_title = Text(f"Reconfigure {w.name}")  # a name, never markup
            dialog.border_subtitle = "ctrl+s save · esc cancel"
            yield Static(
                Text.assemble(
                    "Config ",
                    (f"v{w.config_version}", "bold"),
                    f" of {w.name}; saving makes v{w.config_version + 1}. "
                    # Whether it restarts is in the worker's code, not in the database.
                    "Its run restarts with it, or gets it live if its code sets "
                    "restart_on_config_change=False.",
                ),
                id="reconfigure-about",
            )
            yield Static(Text(schema_hint(w.config_schema)), id="reconfigure-schema")
            text, self.editable = fmt.json_head(w.config, EDIT_CHARS, indent=2, sort_keys=True)
            if not self.editable:
                size = len(json.dumps(w.config, ensure_ascii=False, default=str).encode())
                text = text[: text.rfind("\n")] + "\n…"
                yield Static(too_large_note(w.name, size), id="reconfigure-too-large")
            editor = TextArea(
                text,
                id="config-editor",
                show_line_numbers=True,
                # tab moves on to the buttons and escape cancels, as everywhere else.
                tab_behavior="focus",
                read_only=not self.editable,
            )
            # No blinking where animations are off (tests, screenshots, slow links).
            editor.cursor_blink = self.app.animation_level != "none"
            yield editor
            yield Static("", id="config-error")
            with Horizontal(id="reconfigure-buttons"):
                yield Button(
                    "Save", variant="primary", id="save", compact=True, disabled=not self.editable
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_resize(self) -> None:
        # The editor gives up lines first on a short terminal, so the buttons and
        # an error message still fit (15 = everything else in the dialog).
        height = max(EDITOR_MIN_LINES, min(EDITOR_LINES, self.size.height - 15))
        self.query_one(TextArea).styles.height = height

    @property
    def error_text(self) -> str:
        """The error shown under the editor ("" when none)."""
        return str(self.query_one("#config-error", Static).content)

    def show_error(self, message: str) -> None:
        error = self.query_one("#config-error", Static)
        error.update(Text(message))
        error.set_class(bool(message), "shown")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if not self.editable:
            return  # only the start of it is here: saving would cut it short
        try:
            config = parse_config(self.query_one(TextArea).text)
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.show_error("")
        self.query_one("#save", Button).disabled = True
        self.run_worker(self._submit(config), group="save", exclusive=True, exit_on_error=False)

    async def _submit(self, config: dict[str, Any]) -> None:
        try:
            version = await self._save(config)
        except ActionFailed as exc:
            self.show_error(str(exc))
            self.query_one("#save", Button).disabled = False
            return
        self.dismiss(version)
