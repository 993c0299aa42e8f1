"""A DataTable that is kept in step with data by row key, so cursor and scroll stay put."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from tui import formatting as fmt

Cell = str | Text


def terminal_safe(cell: Cell) -> Cell:
    """The cell with control characters shown as escapes: a worker name or kind holding
    an ESC would otherwise write an escape sequence to the operator's terminal."""
    plain = cell.plain if isinstance(cell, Text) else cell
    if plain.isprintable():
        return cell
    safe = fmt.shown(plain)
    if safe == plain:
        return cell
    return Text(safe, style=cell.style, justify=cell.justify) if isinstance(cell, Text) else safe


class KeyedTable(DataTable[Cell]):
    """Rows keyed by a domain name; `sync` adds, removes and updates only what changed."""

    COLUMNS: Sequence[tuple[str, Cell]] = ()
    # Shorter headers (same keys, same order) for when the table is narrower than NARROW_BELOW.
    NARROW_COLUMNS: Sequence[tuple[str, Cell]] = ()
    NARROW_BELOW = 0

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._narrow: bool | None = None

    def on_mount(self) -> None:
        self._set_headers(narrow=False)

    def _set_headers(self, narrow: bool) -> None:
        self._narrow = narrow
        for key, label in self.NARROW_COLUMNS if narrow else self.COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self) -> None:
        narrow = bool(self.NARROW_COLUMNS) and self.size.width < self.NARROW_BELOW
        if narrow == self._narrow:
            return
        # Headers cannot be relabelled in place: rebuild, then put the cursor back on its row.
        selected = self.selected_key
        self.clear(columns=True)
        self._set_headers(narrow)
        for key, cells in self._shown.items():
            self.add_row(*cells, key=key)
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        """Make the table show exactly `rows` (key → cells in column order)."""
        selected = self.selected_key
        with self.app.batch_update():
            for key in [k for k in self._shown if k not in rows]:
                self.remove_row(key)
                del self._shown[key]
            for key, cells in rows.items():
                new = tuple(map(terminal_safe, cells))
                old = self._shown.get(key)
                if old is None:
                    self.add_row(*new, key=key)
                elif old != new:
                    for (column, _), before, after in zip(self.COLUMNS, old, new, strict=True):
                        if before != after:
                            self.update_cell(key, column, after, update_width=True)
                self._shown[key] = new
            # The cursor is an index: a row removed above it would move it to a
            # neighbour. Keep it on the row the operator chose.
            if selected is not None and selected in rows:
                index = self.get_row_index(selected)
                if index != self.cursor_row:  # moving to itself would scroll back to it
                    self.move_cursor(row=index, animate=False)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        value = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return value

    def cell_text(self, key: str, column: str) -> str:
        """The plain text shown in one cell (for tests and the help line)."""
        value = self.get_cell(key, column)
        return value.plain if isinstance(value, Text) else str(value)
