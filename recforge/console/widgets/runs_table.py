"""The runs table: sortable, filterable, with marks for comparison, refreshable in place.

Rows come from :func:`recforge.services.runs.list_run_rows`. :meth:`RunsTable.show`
re-renders from a fresh query without losing the cursor: unchanged rows stay, changed cells
are updated, and rows that vanished (deleted by another process) go.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from recforge.console import formatting as fmt
from recforge.console.widgets.plain_table import PlainTable, as_text
from recforge.services.runs import RunRow, pick_metric_columns

BASE_COLUMNS: tuple[str, ...] = ("✓", "id", "status", "experiment", "name", "dataset", "model")
TAIL_COLUMNS: tuple[str, ...] = ("duration", "started")
#: columns the `s` key cycles through (the mark column is not sortable)
SORTABLE: tuple[str, ...] = BASE_COLUMNS[1:] + TAIL_COLUMNS


def matches(row: RunRow, query: str) -> bool:
    """Filter language: words must all match; ``status:X``/``exp:X`` match those fields exactly,
    anything else is a case-insensitive substring of id, name, experiment, dataset or model."""
    for word in query.lower().split():
        key, _, value = word.partition(":")
        if value and key == "status":
            if row.status.lower() != value:
                return False
        elif value and key in ("exp", "experiment"):
            if row.experiment.lower() != value:
                return False
        else:
            hay = " ".join([str(row.id), row.name, row.experiment, row.dataset, row.dataset_name,
                            row.model_summary]).lower()
            if word not in hay:
                return False
    return True


def sort_value(row: RunRow, column: str) -> Any:
    """``(0, value)`` a column sorts by, or ``(1, 0.0)`` when the row lacks it (shown last)."""
    if column in ("id",):
        return (0, row.id)
    if column == "duration":
        return (0, row.duration_s) if row.duration_s is not None else (1, 0.0)
    if column == "started":
        return (0, row.started_at.timestamp()) if row.started_at is not None else (1, 0.0)
    if column == "model":
        return (0, row.model_summary.lower())
    if column == "dataset":
        return (0, (row.dataset_name or row.dataset).lower())
    if column in ("status", "experiment", "name"):
        return (0, str(getattr(row, column)).lower())
    value = row.metrics.get(column)
    return (0, value) if value is not None and math.isfinite(value) else (1, 0.0)


class RunsTable(PlainTable):
    """A :class:`DataTable` of :class:`RunRow` keyed by run id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_id: dict[int, RunRow] = {}
        self.marked: set[int] = set()
        self.query_text = ""
        self.sort_column = "id"
        self.sort_reverse = True
        self.metric_columns: list[str] = []
        self._all: list[RunRow] = []

    @property
    def columns_shown(self) -> list[str]:
        return [*BASE_COLUMNS, *self.metric_columns, *TAIL_COLUMNS]

    def visible_rows(self) -> list[RunRow]:
        """The rows after filter and sort, in display order."""
        rows = [r for r in self._all if matches(r, self.query_text)]
        keyed = [(sort_value(r, self.sort_column), r) for r in rows]
        present = sorted(((k[1], r.id, r) for k, r in keyed if k[0] == 0), key=lambda t: t[:2],
                         reverse=self.sort_reverse)
        missing = sorted((r for k, r in keyed if k[0] != 0), key=lambda r: r.id, reverse=self.sort_reverse)
        return [r for *_, r in present] + missing  # rows without the value go last either way

    def cells(self, row: RunRow) -> list[Any]:
        mark = "●" if row.id in self.marked else ""
        values: list[Any] = [
            mark,
            str(row.id),
            Text(row.status, style=fmt.STATUS_STYLE.get(row.status, "")),
            row.experiment,
            row.name,
            row.dataset_name or row.dataset,
            row.model_summary,
        ]
        values += [fmt.metric(row.metrics.get(k)) for k in self.metric_columns]
        values += [fmt.duration(row.duration_s), fmt.timestamp(row.started_at)]
        return values

    def show(self, rows: Sequence[RunRow]) -> None:
        """Render ``rows`` (a fresh query), keeping the cursor on the same run when it remains."""
        self._all = list(rows)
        self.rows_by_id = {r.id: r for r in rows}
        self.marked &= set(self.rows_by_id)
        metric_columns = pick_metric_columns(rows)
        visible = self.visible_rows()
        current = self.current_run_id()
        same_shape = metric_columns == self.metric_columns and [str(r.id) for r in visible] == [
            k.value for k in self.rows
        ]
        if same_shape and self.columns:
            keys = list(self.columns)
            for row in visible:
                for col_key, value in zip(keys, self.cells(row)):
                    if self.get_cell(str(row.id), col_key) != as_text(value):
                        self.update_cell(str(row.id), col_key, value)
            return
        self.metric_columns = metric_columns
        self.clear(columns=True)
        for name in self.columns_shown:
            self.add_column(self._heading(name), key=name)
        for row in visible:
            self.add_row(*self.cells(row), key=str(row.id))
        if current is not None and str(current) in {k.value for k in self.rows}:
            self.move_cursor(row=self.get_row_index(str(current)))

    def _heading(self, name: str) -> str:
        if name == self.sort_column:
            return f"{name} {'▼' if self.sort_reverse else '▲'}"
        return name

    def rerender(self) -> None:
        """Re-apply filter, sort and marks to the rows already loaded."""
        rows, self._all = self._all, []
        self.metric_columns = []  # force a rebuild
        self.show(rows)

    def current_run_id(self) -> int | None:
        """Run id under the cursor (None when the table is empty)."""
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - cursor outside the table
            return None
        return int(key.value) if key.value is not None else None

    def toggle_mark(self) -> None:
        """Mark or unmark the run under the cursor."""
        run_id = self.current_run_id()
        if run_id is None:
            return
        self.marked ^= {run_id}
        self.update_cell(str(run_id), "✓", "●" if run_id in self.marked else "")

    def cycle_sort(self, reverse: bool = False) -> None:
        """``s``: sort by the next column; ``S``: flip the direction."""
        if reverse:
            self.sort_reverse = not self.sort_reverse
        else:
            names = [*SORTABLE[:-2], *self.metric_columns, *TAIL_COLUMNS]
            idx = names.index(self.sort_column) + 1 if self.sort_column in names else 0
            self.sort_column = names[idx % len(names)]
        self.rerender()
