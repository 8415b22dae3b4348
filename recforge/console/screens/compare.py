"""Compare screen: two or more runs side by side, metric deltas and config differences.

Numbers come from :func:`recforge.core.store.compare.compare_runs`, the same service as
``recforge runs compare``; deltas are against the first (baseline) run.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Label, Static

from recforge.console import formatting as fmt
from recforge.console.screens.base import ConsoleScreen
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.errors import RecforgeError
from recforge.core.metric_direction import higher_is_better
from recforge.core.store.compare import MISSING, RunComparison, compare_runs


def delta_text(delta: float | None, key: str = "") -> Text:
    """The signed delta, green when it is an improvement for ``key`` (logloss going down,
    AUC going up), red when worse, dim when equal; empty when unknown."""
    if delta is None:
        return Text("")
    better = delta > 0 if higher_is_better(key) else delta < 0
    style = "dim" if delta == 0 else "green" if better else "red"
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
            yield Static(f"error: {err}", classes="note", markup=False)
            yield Footer()
            return
        names = ", ".join(f"{r['id']} {r['name']}" for r in cmp.runs)
        yield Static(f"baseline run {cmp.run_ids[0]} · comparing {names}", classes="summary", markup=False)
        yield Label("Metrics (latest value, delta vs baseline)", classes="section")
        metrics = PlainTable(id="compare-metrics", zebra_stripes=True, cursor_type="row")
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
                    cells.append(delta_text(row.deltas[run_id], row.key))
            metrics.add_row(*cells)
        yield metrics
        yield Label(f"Config differences ({len(cmp.config)} keys)", classes="section")
        config = PlainTable(id="compare-config", zebra_stripes=True, cursor_type="row")
        config.add_column("key")
        for run_id in cmp.run_ids:
            config.add_column(f"run {run_id}")
        for crow in cmp.config:
            config.add_row(crow.key, *("—" if crow.values[r] == MISSING else fmt.plain(crow.values[r]) for r in cmp.run_ids))
        yield config
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Compare " + " vs ".join(str(r) for r in self.run_ids)
        live = self.comparison is not None and any(r.get("status") == "running" for r in self.comparison.runs)
        if live and self.console.refresh_s:
            # a run still trains: rebuild the tables from the store while it does
            self.set_interval(self.console.refresh_s, lambda: self.refresh(recompose=True))

    def action_back(self) -> None:
        self.app.pop_screen()
