"""Run detail: config, params, metric chart, artifacts, versions and the run's analysis.

Actions: rerun (same config in the train launcher), resume (continue from the last
checkpoint), delete (confirmed), register as a model, export the config + metrics as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from recforge.console import formatting as fmt
from recforge.console.screens.base import ConsoleScreen
from recforge.console.screens.prompt import PromptDialog
from recforge.console.widgets.config_view import ConfigView
from recforge.console.widgets.curve_plot import CurvePlot
from recforge.console.widgets.heatmap import Heatmap
from recforge.console.widgets.importance_bars import ImportanceBars
from recforge.console.widgets.metric_chart import MetricChart
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.config import dump_config
from recforge.core.errors import RecforgeError
from recforge.services.models import register_model
from recforge.services.runs import RunDetail, export_run, run_detail


def _table(id: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> PlainTable:
    table = PlainTable(id=id, cursor_type="row", zebra_stripes=True)
    table.add_columns(*columns)
    for row in rows:
        table.add_row(*row)
    return table


#: the detail tabs in number-key order (1-6 switch tabs here; Esc goes back to the sections)
TABS: tuple[tuple[str, str], ...] = (
    ("tab-metrics", "Metrics"), ("tab-params", "Params"), ("tab-config", "Config"),
    ("tab-artifacts", "Artifacts"), ("tab-versions", "Versions"), ("tab-analysis", "Analysis"),
)


class RunDetailScreen(ConsoleScreen):
    """Everything about one run; Esc goes back to where it was opened from.

    Args:
        run_id: the run to show.
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "rerun", "Rerun"),
        Binding("u", "resume", "Resume"),
        Binding("g", "register", "Register"),
        Binding("e", "export", "Export"),
        Binding("m", "next_metric", "Metric"),
        Binding("x", "delete", "Delete"),
        *(Binding(str(i), f"tab('{tab}')", title, show=False) for i, (tab, title) in enumerate(TABS, 1)),
    ]

    def __init__(self, run_id: int, refresh_s: float | None = 2.0) -> None:
        super().__init__()
        self.run_id = run_id
        self.refresh_s = refresh_s
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        self.detail = detail = run_detail(self.store, self.run_id)
        row = detail.row
        yield Header()
        yield Static(self._summary(detail, self.console.shown_path), id="run-summary", classes="summary",
                     markup=False)
        with TabbedContent(id="run-tabs"):
            with TabPane("Metrics", id="tab-metrics"):
                with Horizontal(classes="curves"):
                    with VerticalScroll(classes="curve-list"):
                        yield MetricChart(detail.series, id="metric-chart")
                    yield CurvePlot(detail.series, id="curve-plot")
            with TabPane("Params", id="tab-params"):
                yield _table(
                    "params-table",
                    ("param", "value"),
                    [(k, fmt.plain(v)) for k, v in sorted(detail.params.items())]
                    + [(k, fmt.metric(v)) for k, v in sorted(row.metrics.items())],
                )
            with TabPane("Config", id="tab-config"):
                with VerticalScroll():
                    yield ConfigView(detail.config, id="config-view")
            with TabPane("Artifacts", id="tab-artifacts"):
                yield _table(
                    "artifacts-table",
                    ("kind", "path", "size", "sha256"),
                    [(a.kind, _short_path(self.console.shown_path(a.path)), str(a.size), a.sha256[:12])
                     for a in detail.artifacts],
                )
            with TabPane("Versions", id="tab-versions"):
                yield _table(
                    "versions-table",
                    ("what", "name", "version"),
                    [("plugin", k, fmt.plain(v)) for k, v in sorted(detail.plugin_versions.items())]
                    + [("component", k, fmt.plain(v)) for k, v in sorted(detail.component_versions.items())],
                )
            with TabPane("Analysis", id="tab-analysis"):
                with VerticalScroll(id="analysis-scroll"):
                    yield from self._analysis(detail)
        yield Footer()

    def _analysis(self, detail: RunDetail) -> ComposeResult:
        view = detail.analysis
        if view.problem is not None:
            yield Static(Text(f"error: {view.problem}", style="bold red"), id="analysis-problem", classes="note")
            return
        if not view.available:
            yield Static(
                f"No analysis for this run yet: run `recforge analyze {detail.row.id}`.", classes="note", markup=False
            )
            return
        with Horizontal(classes="analysis-row"):
            yield ImportanceBars(view.importance, title="Field importance", bar_width=20)
        pairs = view.pairs
        yield Heatmap(
            pairs.labels if pairs else [], pairs.matrix if pairs else [], title="Pair interaction strength"
        )
        if view.plots:
            yield Static(Text("charts: " + ", ".join(Path(p).name for p in view.plots), style="dim"))

    @staticmethod
    def _summary(detail: RunDetail, shown_path: Callable[[str], str]) -> Text:
        """Plain text (never markup): names, statuses and errors are user text."""
        row = detail.row
        text = Text()
        text.append(f"run {row.id}  {row.experiment}/{row.name}  ")
        text.append(f"[{row.status}]", style=fmt.STATUS_STYLE.get(row.status, ""))
        text.append(f"\ndataset {row.dataset_name or row.dataset or '-'} · model {row.model_summary or '-'}"
                    f" · seed {detail.seed}")
        text.append(f"\nstarted {fmt.timestamp(row.started_at) or '-'} · took {fmt.duration(row.duration_s) or '-'}")
        if detail.error:
            text.append(f"\nerror: {shown_path(detail.error)}", style="red")
        return text

    def on_mount(self) -> None:
        self.sub_title = f"Run {self.run_id}"
        if self.refresh_s and self.detail is not None and self.detail.row.status in ("created", "running"):
            self.set_interval(self.refresh_s, self.refresh_live)

    def refresh_live(self) -> None:
        """Re-read status and metrics while the run trains (the chart and summary follow)."""
        try:
            self.detail = detail = run_detail(self.store, self.run_id)
        except RecforgeError:
            return
        self.query_one("#run-summary", Static).update(self._summary(detail, self.console.shown_path))
        self.query_one(MetricChart).set_series(detail.series)
        self.query_one(CurvePlot).show(detail.series, self.query_one(MetricChart).selected)

    def on_metric_chart_selected(self, message: MetricChart.Selected) -> None:
        if self.detail is not None:
            self.query_one(CurvePlot).show(self.detail.series, message.name)

    # ------------------------------------------------------------------ actions
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one("#run-tabs", TabbedContent).active = tab

    def action_next_metric(self) -> None:
        self.query_one(MetricChart).cycle()

    def action_rerun(self) -> None:
        if self.detail is None or not self.detail.config:
            self.notify("this run has no recorded config to rerun", severity="warning")
            return
        self.console.open_train(dump_config(self.detail.config))

    def action_resume(self) -> None:
        if self.detail is None or not self.detail.config:
            self.notify("this run has no recorded config to resume", severity="warning")
            return
        if self.detail.row.status == "finished":
            self.notify(f"run {self.run_id} already finished; use rerun (r)", severity="warning")
            return
        self.console.open_train(dump_config(self.detail.config), resume_run_id=self.run_id)

    def action_delete(self) -> None:
        self.console.delete_run(self.run_id, after=self.app.pop_screen)

    def action_register(self) -> None:
        default = self.detail.row.name if self.detail else ""

        def done(name: str | None) -> None:
            if not name:
                return
            try:
                version = register_model(self.store, name, self.run_id)
            except RecforgeError as err:
                self.report(err)
                return
            self.notify(f"registered {version.name} v{version.version} from run {self.run_id}", markup=False)

        self.app.push_screen(PromptDialog("Register this run as model:", value=default), done)

    def action_export(self) -> None:
        default = str(Path.cwd() / f"run-{self.run_id}.json")

        def done(path: str | None) -> None:
            if not path:
                return
            try:
                written = export_run(self.store, self.run_id, path)
            except (RecforgeError, OSError) as err:
                self.notify(f"error: cannot export to {path}: {err}", severity="error")
                return
            self.notify(f"exported run {self.run_id} to {written}")

        self.app.push_screen(PromptDialog("Export config + metrics JSON to:", value=default), done)


def _short_path(path: str, keep: int = 48) -> str:
    return path if len(path) <= keep else "…" + path[-(keep - 1):]
