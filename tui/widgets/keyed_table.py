"""A DataTable that is kept in step with data by row key, so cursor and scroll stay put.

It also fits its width: when every column does not fit, the least useful ones
(DROP_FIRST, in that order) are left out, and the FLEX column (a last error,
args) is cut to what remains, so there is never a horizontal scrollbar and the
most useful columns are always the ones on screen, at 80 columns as at 200.
Every other column is at most COLUMN_MAX wide: one long kind or name must not
push the columns after it off every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from tui import formatting as fmt

Cell = str | Text

# DataTable pads each cell with one column on either side.
PADDING = 2
FLEX_MIN = 12
# Columns are dropped to give the flex column up to this much before it is cut.
FLEX_WANTED = 40
# The widest any other column gets; a longer cell (a kind of 128 characters) is cut
# with an ellipsis, and shown whole where the row opens.
COLUMN_MAX = 48


def writes(names: frozenset[str], action: str, parameters: tuple[object, ...]) -> bool:
    """Whether `action` (with `parameters`) is one of `names` ("name" or "name:parameter")."""
    return action in names or (bool(parameters) and f"{action}:{parameters[0]}" in names)


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


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


# (narrow headers, the columns shown, every shown column's width).
Layout = tuple[bool, tuple[str, ...], tuple[int, ...]]


class KeyedTable(DataTable[Cell]):
    """Rows keyed by a domain name; `sync` adds, removes and updates only what changed.

    Every column gets the width its widest cell needs, set here, not measured by
    DataTable when it next idles: until then an auto-width column is as narrow as
    its header, and a frame drawn in between (on a busy machine, or a still
    picture) showed every column cut.
    """

    COLUMNS: Sequence[tuple[str, Cell]] = ()
    # Shorter headers (same keys, same order) for when the table is narrower than NARROW_BELOW.
    NARROW_COLUMNS: Sequence[tuple[str, Cell]] = ()
    NARROW_BELOW = 0
    # Columns left out, first one first, while the table does not fit its width.
    DROP_FIRST: Sequence[str] = ()
    # The column that takes the width left over (cut with an ellipsis), if any.
    FLEX: str | None = None

    # Actions that change something ("name" or "name:first parameter"): hidden and
    # refused while the dashboard is read-only.
    WRITES: frozenset[str] = frozenset()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (
            getattr(self.app, "read_only", False) and writes(self.WRITES, action, parameters)
        )

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._layout: Layout | None = None

    def on_mount(self) -> None:
        self._relayout()

    def on_resize(self) -> None:
        self._relayout()

    # ------------------------------------------------------------------
    # Which columns fit
    # ------------------------------------------------------------------

    def _headers(self, narrow: bool) -> dict[str, Cell]:
        return dict(self.NARROW_COLUMNS if narrow else self.COLUMNS)

    def _fit(self) -> Layout:
        """The headers, columns and widths that fit the table's width now."""
        available = self.size.width
        narrow = bool(self.NARROW_COLUMNS) and available < self.NARROW_BELOW
        headers = self._headers(narrow)
        keys = [k for k, _ in self.COLUMNS]
        widths = {}
        for i, key in enumerate(keys):
            widest = max([_width(headers[key])] + [_width(c[i]) for c in self._shown.values()])
            widths[key] = (widest if key == self.FLEX else min(widest, COLUMN_MAX)) + PADDING
        if available <= 0:
            return narrow, tuple(keys), tuple(widths[k] - PADDING for k in keys)
        shown = list(keys)
        drop = list(self.DROP_FIRST)

        def needed() -> int:
            return (
                sum(
                    min(widths[k], FLEX_WANTED + PADDING) if k == self.FLEX else widths[k]
                    for k in shown
                )
                + 1
            )  # the scrollbar gutter's column

        while needed() > available and drop:
            key = drop.pop(0)
            if key in shown:
                shown.remove(key)
        if self.FLEX in shown:
            rest = available - 1 - sum(widths[k] for k in shown if k != self.FLEX)
            widths[self.FLEX] = max(FLEX_MIN, min(widths[self.FLEX], rest))
        return narrow, tuple(shown), tuple(widths[k] - PADDING for k in shown)

    def _relayout(self) -> None:
        layout = self._fit()
        if layout == self._layout:
            return
        self._layout = layout
        narrow, shown, fixed = layout
        headers = self._headers(narrow)
        # Columns cannot be relabelled or hidden in place: rebuild, then put the cursor back.
        selected = self.selected_key if self.row_count else None
        self.clear(columns=True)
        for key, width in zip(shown, fixed, strict=True):
            self.add_column(headers[key], key=key, width=width)
        for key, cells in self._shown.items():
            self.add_row(*self._visible(cells), key=key)
        if selected is not None and selected in self._shown:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _visible(self, cells: Sequence[Cell]) -> list[Cell]:
        if self._layout is None:
            return []
        shown = self._layout[1]
        return [
            self._cut(c, self._column_width(key))
            for (key, _), c in zip(self.COLUMNS, cells, strict=True)
            if key in shown
        ]

    def _column_width(self, key: str) -> int | None:
        """The width of a column on screen now (without its padding), if it is shown."""
        if self._layout is None or key not in self._layout[1]:
            return None
        _, shown, fixed = self._layout
        return fixed[shown.index(key)]

    @staticmethod
    def _cut(cell: Cell, width: int | None) -> Cell:
        """The cell cut to its column with an ellipsis (DataTable would crop it bare)."""
        if width is None or _width(cell) <= width:
            return cell
        text = cell.copy() if isinstance(cell, Text) else Text(cell)
        text.truncate(width, overflow="ellipsis")
        return text

    @property
    def visible_columns(self) -> tuple[str, ...]:
        """The keys of the columns on screen now."""
        return self._layout[1] if self._layout is not None else ()

    # ------------------------------------------------------------------
    # Rows
    # ------------------------------------------------------------------

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        """Make the table show exactly `rows` (key → cells in column order)."""
        selected = self.selected_key
        generation = self._update_count
        with self.app.batch_update():
            for key in [k for k in self._shown if k not in rows]:
                self.remove_row(key)
                del self._shown[key]
            added: list[str] = []
            for key, cells in rows.items():
                new = tuple(map(terminal_safe, cells))
                old = self._shown.get(key)
                self._shown[key] = new
                if old is None:
                    added.append(key)
                elif old != new:
                    for (column, _), before, after in zip(self.COLUMNS, old, new, strict=True):
                        if before != after and column in self.visible_columns:
                            after = self._cut(after, self._column_width(column))
                            self.update_cell(key, column, after, update_width=True)
            for key in added:
                self.add_row(*self._visible(self._shown[key]), key=key)
            # Wider content may no longer fit (or narrower content let a column back).
            self._relayout()
            # The cursor is an index: a row removed above it would move it to a
            # neighbour. Keep it on the row the operator chose.
            if selected is not None and selected in rows:
                index = self.get_row_index(selected)
                if index != self.cursor_row:  # moving to itself would scroll back to it
                    self.move_cursor(row=index, animate=False)
        if self._update_count != generation:
            self._drop_stale_renders()

    def _drop_stale_renders(self) -> None:
        """Forget the rendered cells, rows and lines of what the table showed before.

        DataTable keys each of these caches by its update count, which every changed
        cell bumps, so after a change no entry can ever be read again; it keeps them
        until the cache is full (10,000 cells and 1,000 rows, row renderables and
        lines per table). Refreshing twice a second, the queues and clients tables
        filled theirs over about eight minutes, ~18 MB that was never read.
        """
        # Private to Textual (8.x); its own _clear_caches would also drop the
        # component styles, which do not depend on the content and are still good.
        for cache in (
            self._cell_render_cache,
            self._row_render_cache,
            self._row_renderable_cache,
            self._line_cache,
        ):
            cache.clear()

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        value = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return value

    def cell_text(self, key: str, column: str) -> str:
        """The plain text of one cell, shown or left out for want of width (tests, help)."""
        index = [k for k, _ in self.COLUMNS].index(column)
        value = self._shown[key][index]
        return value.plain if isinstance(value, Text) else str(value)
