"""Studies screen: the searches ``recforge tune`` ran, their trials, best-so-far and importances.

Reads the same service functions as ``recforge studies`` (:mod:`recforge.tune.report`); the
parameter importances need Optuna and at least two complete trials, otherwise the panel says
why it is empty.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Sparkline, Static

from recforge.console.screens.base import ConsoleScreen
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.errors import RecforgeError

BAR = 24
#: below this width the curve and importances go under the trials instead of beside them
NARROW = 110


def importance_lines(importances: dict[str, float]) -> str:
    """``key  ██████  0.62`` per parameter, largest first."""
    if not importances:
        return "importances: need two complete trials that differ"
    width = max(len(k) for k in importances)
    return "\n".join(f"{k:<{width}}  {'█' * max(1, round(v * BAR)):<{BAR}}  {v:.2f}" for k, v in importances.items())


class StudiesScreen(ConsoleScreen):
    """Studies (top) and the selected study's trials (bottom); enter on a trial opens its run."""

    BINDINGS = [Binding("r", "reload", "Reload")]
    DEFAULT_CSS = """
    #study-body { height: 1fr; }
    #trials-table { width: 3fr; }
    #study-side { width: 2fr; padding: 0 1; }
    #best-curve { height: 4; margin: 1 0; }
    StudiesScreen.narrow #study-body { layout: vertical; }
    StudiesScreen.narrow #trials-table { width: 1fr; }
    StudiesScreen.narrow #study-side { width: 1fr; height: auto; }
    StudiesScreen.narrow #best-curve { height: 3; margin: 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.docs: list[dict[str, Any]] = []
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        studies = PlainTable(id="studies-table", cursor_type="row", zebra_stripes=True)  # names are user text
        studies.add_columns("study", "metric", "complete", "pruned", "failed", "best", "best trial")
        yield studies
        yield Static("", id="trials-label", classes="section", markup=False)
        with Horizontal(id="study-body"):
            trials = PlainTable(id="trials-table", cursor_type="row", zebra_stripes=True)
            trials.add_columns("trial", "state", "value", "run", "params")
            yield trials
            with Vertical(id="study-side"):
                yield Static("", id="best-label", markup=False)
                yield Sparkline([], id="best-curve")
                yield Static("", id="importances", markup=False)
        yield Static("", id="studies-summary", classes="summary", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Studies"
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Re-read every study; keep the selected one."""
        from recforge.tune import records
        from recforge.tune.report import summary

        try:
            self.docs = [summary(self.store, s) for s in records.list_studies(self.store)]
        except RecforgeError as err:
            self.report(err)
            return
        table = self.query_one("#studies-table", DataTable)
        table.clear()
        for doc in self.docs:
            best = doc["best"]
            table.add_row(doc["study"], doc["metric"], str(doc["counts"]["complete"]), str(doc["counts"]["pruned"]),
                          str(doc["counts"]["failed"]), f"{best['value']:.4f}" if best else "-",
                          str(best["number"]) if best else "-", key=doc["study"])
        self.query_one("#studies-summary", Static).update(
            f"{len(self.docs)} {'study' if len(self.docs) == 1 else 'studies'}" if self.docs else "no studies yet: run `recforge tune CONFIG --space SPACE.yaml`")
        names = [d["study"] for d in self.docs]
        if names:
            self.show_study(self.selected if self.selected in names else names[0])

    @on(DataTable.RowHighlighted, "#studies-table")
    def _study_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and event.row_key.value != self.selected:
            self.show_study(str(event.row_key.value))

    def show_study(self, name: str) -> None:
        """Fill the trials table, the best-so-far curve and the importances of study ``name``."""
        from recforge.tune import records
        from recforge.tune.report import best_so_far, param_importances

        doc = next(d for d in self.docs if d["study"] == name)
        self.selected = name
        self.query_one("#trials-label", Static).update(f"Trials of {name} (enter opens a trial's run)")
        trials = self.query_one("#trials-table", DataTable)
        trials.clear()
        for t in doc["trials"]:
            params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items())
            trials.add_row(str(t["number"]), t["state"], "-" if t["value"] is None else f"{t['value']:.4f}",
                           "-" if t["run_id"] is None else str(t["run_id"]), params, key=str(t["number"]))
        complete = [t["value"] if t["state"] == "complete" else None for t in doc["trials"]]
        curve = [v for v in best_so_far(complete, doc["direction"]) if v is not None]
        self.query_one("#best-curve", Sparkline).data = curve
        best = doc["best"]
        self.query_one("#best-label", Static).update(
            f"best {doc['metric']} so far: {best['value']:.4f} (trial {best['number']})" if best
            else "no complete trial yet")
        try:
            importances = param_importances(self.store, records.get_study(self.store, name))
        except RecforgeError as err:  # e.g. optuna missing: say so in the panel
            importances = {}
            self.report(err)
        self.query_one("#importances", Static).update(importance_lines(importances))

    @on(DataTable.RowSelected, "#trials-table")
    def _trial_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a trial opens its run's detail screen."""
        doc = next((d for d in self.docs if d["study"] == self.selected), None)
        trial = next((t for t in (doc or {}).get("trials", []) if str(t["number"]) == event.row_key.value), None)
        if trial is not None and trial["run_id"] is not None:
            self.console.open_run(int(trial["run_id"]))
