"""A DataTable whose string cells are plain text, never Rich markup.

Cells hold user text (run names, errors, tags, paths): DataTable would parse ``[finished]``
or ``[/data/x]`` as markup, dropping the text or raising MarkupError. Styled cells are
passed as :class:`rich.text.Text` and kept as they are. ``j``/``k`` move the cursor as in vim.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


def as_text(cell: Any) -> Any:
    """``str`` cells become :class:`Text` (no markup); anything else is kept."""
    return Text(cell, end="") if isinstance(cell, str) else cell


class PlainTable(DataTable[Any]):
    """DataTable with plain-text string cells and vim-style ``j``/``k``."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        return super().add_row(*(as_text(c) for c in cells), **kwargs)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell(row_key, column_key, as_text(value), **kwargs)

    def update_cell_at(self, coordinate: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell_at(coordinate, as_text(value), **kwargs)
