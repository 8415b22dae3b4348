"""Runs screen: every run in the store beside a live preview of the highlighted one.

The table and the preview (status, key metrics and the learning curve of the highlighted run)
share the screen as in lazygit or k9s; below :data:`NARROW` columns the preview folds away
and the table takes the width. Both refresh while other processes train into the store.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Static

from recforge.console import formatting as fmt
from recforge.console.messages import RunChosen
from recforge.console.screens.base import ConsoleScreen
from recforge.console.widgets.curve_plot import CurvePlot
from recforge.console.widgets.runs_table import RunsTable
from recforge.core.errors import RecforgeError
from recforge.services.runs import KEY_METRICS, list_run_rows, run_series

#: seconds between re-queries of the store
REFRESH_S = 2.0
#: below this terminal width the preview pane is hidden
NARROW = 110


class RunsScreen(ConsoleScreen):
    """Sortable, filterable runs table; enter opens a run, space marks runs to compare."""

    #: the table takes the keys on arrival (a filter field would swallow 1-6, j/k and ?)
    AUTO_FOCUS = "#runs-table"

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("s", "sort", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("x", "delete", "Delete"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, refresh_s: float | None = REFRESH_S) -> None:
        super().__init__()
        self.refresh_s = refresh_s

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ filter: words, status:running, exp:NAME", id="runs-filter")
        with Horizontal(id="runs-split"):
            yield RunsTable(id="runs-table")
            with Vertical(id="runs-preview"):
                yield Static("", id="runs-preview-text", markup=False)
                yield CurvePlot(id="runs-preview-plot")
        yield Static("", id="runs-summary", classes="summary", markup=False)
        yield Footer()

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def on_mount(self) -> None:
        self.sub_title = "Runs"
        self.reload()
        self.table.focus()
        if self.refresh_s:
            self.set_interval(self.refresh_s, self.reload, name="runs-refresh")

    def on_screen_resume(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self) -> None:
        self.preview()

    def preview(self) -> None:
        """Show the highlighted run's status, metrics and learning curve beside the table."""
        run_id = self.table.current_run_id()
        row = self.table.rows_by_id.get(run_id) if run_id is not None else None
        text = self.query_one("#runs-preview-text", Static)
        plot = self.query_one("#runs-preview-plot", CurvePlot)
        if row is None:
            text.update("no run selected")
            plot.show({}, None)
            return
        lines = [f"run {row.id}  {row.name}  [{row.status}]", f"{row.dataset_name or row.dataset} · {row.model_summary}"]
        shown = sorted((k for k in row.metrics if k.startswith(("valid.", "test."))), key=lambda k: (k[0] == "t", k))
        lines += [f"{k} {fmt.metric(row.metrics[k])}" for k in shown[:6]]
        text.update("\n".join(lines))
        try:
            series = run_series(self.store, row.id)
        except RecforgeError:
            return
        metric = next((k for k in KEY_METRICS if k in series), next(iter(sorted(series)), None))
        plot.show(series, metric)

    def reload(self) -> None:
        """Re-query the store and update the table in place."""
        try:
            rows = list_run_rows(self.store)
        except RecforgeError as err:
            self.report(err)
            return
        self.table.show(rows)
        self.preview()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        parts = [f"{n} {s}" for s, n in sorted(counts.items())]
        marked = len(self.table.marked)
        shown = self.table.row_count
        self.query_one("#runs-summary", Static).update(
            f"{shown} of {len(rows)} runs" + (f" ({', '.join(parts)})" if parts else "")
            + (f" · {marked} marked" if marked else "")
        )

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.query_text = event.value
        self.table.rerender()
        self.reload()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(RunChosen(int(event.row_key.value)))

    def on_run_chosen(self, message: RunChosen) -> None:
        self.console.open_run(int(message.run_id))

    def action_open(self) -> None:
        run_id = self.table.current_run_id()
        if run_id is not None:
            self.console.open_run(run_id)

    def action_mark(self) -> None:
        self.table.toggle_mark()
        self.reload()

    def action_compare(self) -> None:
        marked = sorted(self.table.marked)
        if len(marked) < 2:
            self.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.console.open_compare(marked)

    def action_sort(self) -> None:
        self.table.cycle_sort()

    def action_sort_reverse(self) -> None:
        self.table.cycle_sort(reverse=True)

    def action_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#runs-filter", Input).value = ""
        self.table.focus()

    def action_delete(self) -> None:
        run_id = self.table.current_run_id()
        if run_id is None:
            return
        self.console.delete_run(run_id, after=self.reload)
