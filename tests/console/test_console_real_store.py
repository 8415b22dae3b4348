"""The console on a store made by the real CLI: every screen opens every run, no exception.

The store (see ``real_store.py``) has an analysed and registered run, a failed run whose error
and artifact paths contain ``[/data/x]``, an interrupted run and a ``recforge tune`` study
whose two trials are runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from recforge.console.app import RecforgeConsole
from recforge.console.screens.compare import CompareScreen
from recforge.console.screens.run_detail import RunDetailScreen
from recforge.console.screens.studies import StudiesScreen
from recforge.console.widgets.heatmap import Heatmap
from recforge.console.widgets.importance_bars import ImportanceBars
from recforge.console.widgets.metric_chart import MetricChart
from recforge.console.widgets.runs_table import RunsTable

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SIZE = (120, 40)


def _text(static: Static) -> str:
    return str(static.render())


def _check_detail(screen: Any, real: Any, run_id: int) -> None:
    """Status, error, artifacts and (for the analysed run) the analysis panels are shown."""
    assert isinstance(screen, RunDetailScreen) and screen.run_id == run_id
    summary = _text(screen.query_one("#run-summary", Static))
    with real.open() as store:
        run = store.get_run(run_id)
        artifacts = len(run.artifacts)
        logged = bool(store.latest_metrics(run_id))
    assert f"[{run.status}]" in summary
    if run.status == "failed":
        assert "[/data/x]" in summary and "error: ArtifactError" in summary
    table = screen.query_one("#artifacts-table", DataTable)
    assert table.row_count == artifacts
    if artifacts:  # paths with [/data/x] are shown as they are, not eaten as markup
        assert any("x]" in str(table.get_cell_at((r, 1))) for r in range(table.row_count))
    assert bool(screen.query_one(MetricChart).series) == logged  # a run that failed before epoch 1 has none
    if run_id == real.finished:
        heat = screen.query_one(Heatmap)
        report = json.loads(Path(screen.detail.analysis.path).read_text())
        assert heat.labels == report["fields"] and heat.vmax() > 0
        assert len(screen.query_one(ImportanceBars).items) == len(report["importance"])
    else:  # no analysis: the hint to run one, not an error about the model folder
        assert not screen.query(Heatmap) and not screen.query("#analysis-problem")
        assert screen.detail.analysis.problem is None


async def test_every_run_opens_from_runs_and_models(real_store: Any) -> None:
    store = real_store.open()
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RunsTable)
        rows = range(len(real_store.run_ids))
        assert table.row_count == len(rows)
        statuses = {str(table.get_row_at(r)[1]): str(table.get_row_at(r)[2]) for r in rows}
        assert statuses == {"1": "finished", "2": "failed", "3": "interrupted", "4": "finished", "5": "finished"}
        assert {str(table.get_row_at(r)[5]) for r in rows} == {"ml100k-ctr"}  # dataset by name
        for row in rows:
            table.move_cursor(row=row)
            await pilot.press("enter")
            await pilot.pause()
            _check_detail(app.screen, real_store, int(str(table.get_row_at(row)[1])))
            for tab in ("tab-params", "tab-config", "tab-artifacts", "tab-versions", "tab-analysis"):
                app.screen.query_one("#run-tabs").active = tab
                await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
        # the compare screen over all three
        app.open_compare(real_store.run_ids)
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.query_one("#compare-metrics", DataTable).row_count > 0
        await pilot.press("escape")
        # the registered model opens its run from the Models section
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        _check_detail(app.screen, real_store, real_store.finished)
        for key in ("3", "4", "5", "6", "8", "1"):  # every other section renders on this store
            await pilot.press("escape", key)
            await pilot.pause()
    store.close()


async def test_studies_section_shows_the_real_tune_study(real_store: Any) -> None:
    """Key 7 opens the study ``recforge tune`` made: both trials, their values, the best so far."""
    store = real_store.open()
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudiesScreen)
        studies = screen.query_one("#studies-table", DataTable)
        assert studies.row_count == 1
        assert [str(c) for c in studies.get_row_at(0)[:3]] == [real_store.study, "valid.auc", "2"]
        trials = screen.query_one("#trials-table", DataTable)
        rows = [[str(c) for c in trials.get_row_at(r)] for r in range(trials.row_count)]
        assert [r[:2] for r in rows] == [["0", "complete"], ["1", "complete"]]
        assert [int(r[3]) for r in rows] == list(real_store.trials) and all("train.lr=" in r[4] for r in rows)
        best = max(float(r[2]) for r in rows)
        assert f"{best:.4f}" in str(screen.query_one("#best-label", Static).render())
        trials.focus()
        await pilot.press("enter")  # a trial opens its run
        await pilot.pause()
        _check_detail(app.screen, real_store, real_store.trials[0])
    store.close()


async def test_broken_analysis_is_a_message_not_a_crash(real_store: Any) -> None:
    store = real_store.open()
    report = next(Path(a.path) for a in store.get_run(real_store.finished).artifacts
                  if a.path.endswith("analysis.json"))
    original = report.read_bytes()
    try:
        for damage, expected in ((b"\x89PNG not json", "cannot read"), (b"[1, 2]", "not an analysis report")):
            report.write_bytes(damage)
            app = RecforgeConsole(store=store, refresh_s=None)
            async with app.run_test(size=SIZE) as pilot:
                app.open_run(real_store.finished)
                await pilot.pause()
                screen = app.screen
                assert isinstance(screen, RunDetailScreen)
                problem = _text(screen.query_one("#analysis-problem", Static))
                assert expected in problem and f"recforge analyze {real_store.finished}" in problem
        report.unlink()
        app = RecforgeConsole(store=store, refresh_s=None)
        async with app.run_test(size=SIZE) as pilot:
            app.open_run(real_store.finished)
            await pilot.pause()
            assert "is missing" in _text(app.screen.query_one("#analysis-problem", Static))
    finally:
        report.write_bytes(original)
        store.close()


def test_cli_shows_the_real_store(real_store: Any, tmp_path: Path) -> None:
    """``runs list/show`` print statuses and errors verbatim; ``--plot`` writes learning curves."""
    from click.testing import CliRunner

    from recforge.cli import cli

    runner = CliRunner()
    listed = runner.invoke(cli, ["runs", "list"], env=real_store.env)
    assert listed.exit_code == 0 and "interrupted" in listed.output and "ml100k-ctr" in listed.output
    failed = runner.invoke(cli, ["runs", "show", str(real_store.failed)], env=real_store.env)
    assert failed.exit_code == 0 and "[failed]" in failed.output and "[/data/x]" in failed.output
    shown = runner.invoke(cli, ["runs", "show", str(real_store.finished), "--plot", str(tmp_path)], env=real_store.env)
    assert shown.exit_code == 0, shown.output
    curves = sorted(p.name for p in tmp_path.glob("curve_*.png"))
    assert {"curve_auc.png", "curve_loss.png"} <= set(curves)
    assert all((tmp_path / c).read_bytes()[:4] == b"\x89PNG" for c in curves)
