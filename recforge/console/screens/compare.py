"""Compare screen: two or more runs side by side, metric deltas and config differences.

Numbers come from :func:`recforge.core.store.compare.compare_runs`, the same service as
``recforge runs compare``; deltas are against the first (baseline) run.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Label, Static

from recforge.console import formatting as fmt
from recforge.console.screens.base import ConsoleScreen
from recforge.core.errors import RecforgeError
from recforge.core.store.compare import MISSING, RunComparison, compare_runs


def delta_text(delta: float | None) -> Text:
    """``+0.0123`` in green, ``-0.0123`` in red, empty when unknown."""
    if delta is None:
        return Text("")
    style = "green" if delta > 0 else "red" if delta < 0 else "dim"
    return Text(f"{delta:+.4f}", style=style)


class CompareScreen(ConsoleScreen):
    """Runs side by side.

    Args:
        run_ids: the runs, baseline first.
    """

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__()
        self.run_ids = list(run_ids)
        self.comparison: RunComparison | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        try:
            self.comparison = cmp = compare_runs(self.store, self.run_ids)
        except RecforgeError as err:
            yield Static(f"error: {err}", classes="note")
            yield Footer()
            return
        names = ", ".join(f"{r['id']} {r['name']}" for r in cmp.runs)
        yield Static(f"baseline run {cmp.run_ids[0]} · comparing {names}", classes="summary")
        yield Label("Metrics (latest value, delta vs baseline)", classes="section")
        metrics: DataTable[object] = DataTable(id="compare-metrics", zebra_stripes=True, cursor_type="row")
        metrics.add_column("metric")
        for i, run_id in enumerate(cmp.run_ids):
            metrics.add_column(f"run {run_id}")
            if i:
                metrics.add_column(f"Δ {run_id}")
        for row in cmp.metrics:
            cells: list[object] = [row.key]
            for i, run_id in enumerate(cmp.run_ids):
                cells.append(fmt.metric(row.values[run_id]) if row.values[run_id] is not None else "")
                if i:
                    cells.append(delta_text(row.deltas[run_id]))
            metrics.add_row(*cells)
        yield metrics
        yield Label(f"Config differences ({len(cmp.config)} keys)", classes="section")
        config: DataTable[str] = DataTable(id="compare-config", zebra_stripes=True, cursor_type="row")
        config.add_column("key")
        for run_id in cmp.run_ids:
            config.add_column(f"run {run_id}")
        for crow in cmp.config:
            config.add_row(crow.key, *("—" if crow.values[r] == MISSING else fmt.plain(crow.values[r]) for r in cmp.run_ids))
        yield config
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Compare " + " vs ".join(str(r) for r in self.run_ids)

    def action_back(self) -> None:
        self.app.pop_screen()
