"""Pilot tests: every screen and action of the console on a store made by the real CLI.

Each test gets its own writable copy of the session's real store (``real_copy``), so deletes,
promotes, tags and launches stay in that test; expected values are read back from the store.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable, Input, RichLog, Static, TextArea

from recforge.cli import cli
from recforge.console import formatting as fmt
from recforge.console.app import RecforgeConsole
from recforge.console.screens.compare import CompareScreen
from recforge.console.screens.confirm import ConfirmDialog
from recforge.console.screens.help import HelpScreen
from recforge.console.screens.prompt import PromptDialog
from recforge.console.screens.run_detail import RunDetailScreen
from recforge.console.screens.train_launcher import TrainLauncherScreen
from recforge.console.widgets.heatmap import Heatmap
from recforge.console.widgets.importance_bars import ImportanceBars
from recforge.console.widgets.metric_chart import MetricChart
from recforge.console.widgets.runs_table import RunsTable
from recforge.core.metric_direction import higher_is_better
from recforge.core.registry import get_registry
from recforge.core.store import Store
from recforge.services import plugins as pip_runner

pytestmark = pytest.mark.anyio


def column(table: DataTable[Any], name: str) -> list[str]:
    """Plain text of one column, top to bottom."""
    key = next(k for k, col in table.columns.items() if name in (k.value, col.label.plain))
    return [str(table.get_cell(row, key)) for row in table.rows]


def per_epoch(store: Store, run_id: int, key: str) -> list[float]:
    """One value per step; a step logged again (the trainer re-logs its best epoch) keeps the last."""
    by_step = {m.step: m.value for m in store.get_metrics(run_id, key)}
    return [by_step[step] for step in sorted(by_step)]


def run_ids(store: Store) -> list[int]:
    return [int(r.id) for r in store.list_runs()]


def analysis_report(store: Store, run_id: int) -> dict[str, Any]:
    """The ``analysis.json`` that ``recforge analyze`` wrote for the run."""
    path = next(a.path for a in store.get_run(run_id).artifacts if a.kind == "analysis")
    return json.loads(Path(path).read_text(encoding="utf-8"))


async def test_runs_table_lists_sorts_and_filters(real_copy: SimpleNamespace) -> None:
    store = real_copy.store
    ids = run_ids(store)
    latest = {i: store.latest_metrics(i) for i in ids}
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        assert column(table, "id") == [str(i) for i in sorted(ids, reverse=True)]  # newest first
        assert table.metric_columns[:2] == ["valid.auc", "valid.logloss"]
        assert column(table, "valid.auc") == [fmt.metric(latest[i].get("valid.auc")) for i in sorted(ids, reverse=True)]
        assert all(column(table, "duration"))  # every run of the CLI has ended
        await pilot.press("slash", *"status:finished", "enter")
        finished = [int(r.id) for r in store.list_runs(status="finished")]
        assert column(table, "id") == [str(i) for i in sorted(finished, reverse=True)] and len(finished) < len(ids)
        await pilot.press("escape")
        assert table.row_count == len(ids)
        await pilot.press("s", "s")  # id -> status -> experiment? first press: status
        assert table.sort_column in ("status", "experiment")
        table.sort_column, table.sort_reverse = "valid.auc", True
        table.rerender()
        by_auc = sorted(ids, key=lambda i: (latest[i]["valid.auc"], i), reverse=True)
        assert column(table, "id") == [str(i) for i in by_auc]


async def test_runs_refresh_live_while_another_store_writes(real_copy: SimpleNamespace) -> None:
    """A second Store (its own engine and connections, as another process) trains into the same
    database while the console re-queries every 50 ms: no lock errors, no stale rows."""
    store, real = real_copy.store, real_copy.real
    before = run_ids(store)
    writer = Store.open()
    errors: list[BaseException] = []
    new_run: list[int] = []

    def train() -> None:
        try:
            run = writer.create_run(experiment="ml100k-ctr", name="concurrent", config={"data": {}})
            new_run.append(int(run.id))
            writer.start_run(run.id)
            for epoch in range(1, 21):
                writer.log_metrics(run.id, {"valid.auc": 0.5 + epoch / 100}, step=epoch)
                writer.heartbeat(run.id)
                time.sleep(0.01)
            writer.finish_run(run.id)
            writer.delete_run(real.failed)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    app = RecforgeConsole(store=store, refresh_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        thread = threading.Thread(target=train)
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        table = app.screen.query_one(RunsTable)
        assert not errors
        expected = sorted([*(i for i in before if i != real.failed), *new_run], reverse=True)
        assert column(table, "id") == [str(i) for i in expected]  # new run in, deleted run gone
        assert column(table, "id")[0] == str(new_run[0]) and column(table, "status")[0] == "finished"
        assert column(table, "valid.auc")[0] == "0.7000"  # 0.5 + 20/100, the last epoch it wrote
    writer.close()


async def test_run_detail_shows_chart_analysis_and_versions(real_copy: SimpleNamespace) -> None:
    store, real = real_copy.store, real_copy.real
    report = analysis_report(store, real.finished)
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(real.finished)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunDetailScreen)
        chart = screen.query_one(MetricChart)
        assert [v for _, v in chart.series["valid.auc"]] == per_epoch(store, real.finished, "valid.auc")
        assert len(chart.series["valid.auc"]) == 2  # the CLI trained it for 2 epochs
        assert chart.selected == "valid.auc"
        await pilot.press("m")
        assert chart.selected != "valid.auc" and chart.selected in chart.series
        heat = screen.query_one(Heatmap)
        strengths = [v for i, row in enumerate(report["pairs"]["strength_matrix"]) for j, v in enumerate(row)
                     if i != j and v is not None and math.isfinite(v)]
        assert heat.labels == report["fields"] and heat.vmax() == max(strengths)
        bars = screen.query_one(ImportanceBars)
        by_mean = sorted(report["importance"], key=lambda f: -report["importance"][f]["mean"])
        assert [i.field for i in bars.items] == by_mean
        artifacts = screen.query_one("#artifacts-table", DataTable)
        assert column(artifacts, "kind") == [a.kind for a in store.get_run(real.finished).artifacts]
        assert "analysis" in column(artifacts, "kind")
        params = screen.query_one("#params-table", DataTable)
        assert set(column(params, "param")) >= set(store.get_run(real.finished).params_dict)
        await pilot.press("escape")
        app.open_run(real.trials[0])  # trained, never analysed: the hint to run the analysis
        await pilot.pause()
        assert f"recforge analyze {real.trials[0]}" in str(app.screen.query_one(".note", Static).render())


async def test_run_detail_actions_export_register_delete(real_copy: SimpleNamespace, tmp_path: Path) -> None:
    store, real = real_copy.store, real_copy.real
    ids = run_ids(store)
    versions = [(m.name, m.version) for m in store.list_models()]
    copied = real_copy.home / "artifacts" / "runs" / str(real.finished)
    assert copied.is_dir()  # the run's folder, copied with the store
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(real.finished)
        await pilot.pause()
        # export
        await pilot.press("e")
        assert isinstance(app.screen, PromptDialog)
        target = tmp_path / "out" / "run1.json"
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        doc = json.loads(target.read_text())
        assert [p["value"] for p in doc["metrics"]["valid.auc"]] == per_epoch(store, real.finished, "valid.auc")
        run = store.get_run(real.finished)
        assert doc["config"] == run.config
        assert doc["latest_metrics"]["valid.auc"] == store.latest_metrics(real.finished)["valid.auc"]
        # register: the next version of the model the CLI registered
        await pilot.press("g")
        app.screen.query_one(Input).value = real.model
        await pilot.press("enter")
        top = max(v for n, v in versions if n == real.model)
        assert [(m.name, m.version, m.run_id) for m in store.list_models()][-1] == (real.model, top + 1, real.finished)
        # delete, first declined then confirmed
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert store.get_run(real.finished).id == real.finished
        await pilot.press("x", "y")  # refused: registered versions use the run's model (issue 17)
        await pilot.pause()
        assert run_ids(store) == ids
        assert isinstance(app.screen, RunDetailScreen)
        for mv in store.dependent_models(real.finished):
            store.delete_model(mv.name, mv.version)
        await pilot.press("x", "y")
        await pilot.pause()
        assert run_ids(store) == [i for i in ids if i != real.finished]
        assert not isinstance(app.screen, RunDetailScreen)
    assert not copied.exists()  # the copy's folder went with the run ...
    assert (real.home / "artifacts" / "runs" / str(real.finished)).is_dir()  # ... the session store kept its own


async def test_rerun_and_resume_open_the_launcher(real_copy: SimpleNamespace) -> None:
    store, real = real_copy.store, real_copy.real
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(real.finished)
        await pilot.pause()
        await pilot.press("u")  # finished: resume refused
        assert isinstance(app.screen, RunDetailScreen)
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TrainLauncherScreen)
        assert screen.current_config() == store.get_run(real.finished).config and screen.resume_run_id is None
        await pilot.press("escape", "1")  # leave the editor, then go to Runs
        app.open_run(real.interrupted)  # Ctrl-C after epoch 1: resumable
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, TrainLauncherScreen) and app.screen.resume_run_id == real.interrupted


async def test_compare_marked_runs(real_copy: SimpleNamespace) -> None:
    """The two trials of the CLI's study: same config but ``train.lr`` (and the name)."""
    store, real = real_copy.store, real_copy.real
    first, second = sorted(real.trials)
    assert run_ids(store)[:2] == [second, first]  # the newest two rows of the runs table
    a, b = store.latest_metrics(first), store.latest_metrics(second)
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")  # nothing marked: a warning, no screen
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("space", "down", "space", "c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.run_ids == [first, second]
        metrics = screen.query_one("#compare-metrics", DataTable)
        rows = {str(r[0]): r for r in (metrics.get_row(k) for k in metrics.rows)}
        for key in ("valid.auc", "valid.logloss"):
            delta = b[key] - a[key]
            assert str(rows[key][3]) == f"{delta:+.4f}"
            better = delta > 0 if higher_is_better(key) else delta < 0
            assert rows[key][3].style == ("dim" if delta == 0 else "green" if better else "red")
        config = screen.query_one("#compare-config", DataTable)
        assert "train.lr" in column(config, "key") and "train.epochs" not in column(config, "key")


async def test_models_promote_tag_delete(real_copy: SimpleNamespace) -> None:
    store, real = real_copy.store, real_copy.real
    # a second version, tagged, registered with the real CLI into this test's copy
    result = CliRunner().invoke(cli, ["models", "register", str(real.trials[0]), real.model, "--tag", "owner=ops"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#models-table", DataTable)
        assert column(table, "version") == ["1", "2"] and column(table, "tags") == ["", "owner=ops"]
        await pilot.press("p")
        app.screen.query_one(Input).value = "production"
        await pilot.press("enter")
        assert store.get_model(real.model, 1).stage == "production"
        await pilot.press("p")
        app.screen.query_one(Input).value = "shipping"  # unknown stage: error, nothing changes
        await pilot.press("enter")
        assert store.get_model(real.model, 1).stage == "production"
        await pilot.press("t")
        app.screen.query_one(Input).value = "team=recs"
        await pilot.press("enter")
        assert store.get_model(real.model, 1).tags == {"team": "recs"}
        await pilot.press("down", "t")
        app.screen.query_one(Input).value = "-owner"
        await pilot.press("enter")
        assert store.get_model(real.model, 2).tags == {}
        await pilot.press("x", "y")
        await pilot.pause()
        assert [(m.name, m.version) for m in store.list_models()] == [(real.model, 1)]
        assert column(table, "version") == ["1"]


async def test_plugins_list_and_install_shows_pip_output(
    real_copy: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def fake_pip(action: str, package: str) -> list[str]:
        calls.append((action, package))
        import sys

        return [sys.executable, "-c", f"print('Successfully {action}ed {package}')"]

    monkeypatch.setattr(pip_runner, "pip_command", fake_pip)
    app = RecforgeConsole(store=real_copy.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        table = app.screen.query_one("#plugins-table", DataTable)
        assert column(table, "plugin") == [r.name for r in get_registry().plugin_list()]
        await pilot.press("i")
        app.screen.query_one(Input).value = "recforge-demo"
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.screen.busy:
                break
        log = app.screen.query_one("#pip-log", RichLog)
        text = "\n".join(str(line.text) for line in log.lines)
        assert calls == [("install", "recforge-demo")]
        assert "Successfully installed recforge-demo" in text and "done" in text
        await pilot.press("u")  # a built-in plugin cannot be uninstalled
        assert calls == [("install", "recforge-demo")]


async def test_components_and_datasets_screens(real_copy: SimpleNamespace) -> None:
    reg = get_registry()
    app = RecforgeConsole(store=real_copy.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        table = app.screen.query_one("#components-table", DataTable)
        assert column(table, "name") == [c.name for c in reg.list()]
        await pilot.press("t")  # encoders only
        assert column(table, "name") == [c.name for c in reg.list("encoder")]
        if reg.list("encoder"):
            doc = str(app.screen.query_one("#component-doc", Static).render())
            assert reg.list("encoder")[0].name in doc and "Parameters" in doc
        await pilot.press("3")
        recipes = app.screen.query_one("#recipes-table", DataTable)
        assert column(recipes, "recipe") == [c.name for c in reg.list("dataset")]
        # summaries read as text: reST literals (``click``) lose their markers, as in the CLI
        assert not any("``" in s for s in column(recipes, "summary"))
        assert any("click label" in s for s in column(recipes, "summary"))
        prepared = app.screen.query_one("#prepared-table", DataTable)
        datasets = real_copy.store.list_datasets()  # what the CLI's training recorded
        assert datasets and column(prepared, "name") == [d.name for d in datasets]
        for shown, dataset in zip(column(prepared, "counts"), datasets):
            assert all(f"{k}=" in shown or f"{k}." in shown for k in dataset.counts) and dataset.counts


async def test_train_launcher_runs_and_cancels_into_the_store(real_copy: SimpleNamespace) -> None:
    """A runner that records into the real store and honours cancellation like the trainer."""
    store = real_copy.store
    before = len(store.list_runs())
    started = threading.Event()

    def runner(config: dict[str, Any], store_: Store, *, on_event: Any, progress: bool) -> Any:
        run = store_.create_run(experiment=config["experiment"], name=config["name"], config=config)
        store_.start_run(run.id)
        epochs = config["train"]["epochs"]
        for epoch in range(1, epochs + 1):
            for step in range(1, 5):
                if on_event({"kind": "step", "epoch": epoch, "epochs": epochs, "step": step, "steps": 4,
                             "loss": 1.0 / (epoch * step), "samples_per_s": 1000.0}):
                    store_.interrupt_run(run.id)
                    err = KeyboardInterrupt("cancelled")
                    err.run_id = run.id  # type: ignore[attr-defined]
                    raise err
                started.set()
                time.sleep(0.02)
            store_.log_metrics(run.id, {"valid.auc": 0.6 + epoch / 100}, step=epoch)
            on_event({"kind": "epoch", "epoch": epoch, "epochs": epochs, "metrics": {"valid.auc": 0.6 + epoch / 100}})
        store_.finish_run(run.id)
        return SimpleNamespace(run_id=run.id)

    config = store.get_run(real_copy.real.finished).config  # the config the CLI trained with
    text = json.dumps({**config, "name": "launched"})  # JSON is YAML
    app = RecforgeConsole(store=store, refresh_s=None)
    app.add_mode  # noqa: B018 - modes are registered on mount
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        screen = app.screen
        assert isinstance(screen, TrainLauncherScreen)
        screen.runner = runner
        screen.load_text(text)
        screen.query_one("#overrides", Input).value = "train.epochs=2"
        await pilot.press("ctrl+l")
        for _ in range(200):
            await pilot.pause(0.05)
            if screen.last_status == "finished":
                break
        assert screen.last_status == "finished" and screen.last_run_id == before + 1
        assert store.get_run(before + 1).status == "finished" and store.get_run(before + 1).name == "launched"
        assert [m.value for m in store.get_metrics(before + 1)] == [0.61, 0.62]  # two epochs: the override
        # now a long run, cancelled
        started.clear()
        screen.query_one("#overrides", Input).value = "train.epochs=500"
        await pilot.press("ctrl+l")
        while not started.is_set():
            await pilot.pause(0.02)
        await pilot.press("ctrl+k")
        for _ in range(200):
            await pilot.pause(0.05)
            if screen.last_status == "interrupted":
                break
        assert screen.last_status == "interrupted" and screen.last_run_id == before + 2
        assert store.get_run(before + 2).status == "interrupted"
        # a broken config is reported, nothing launched
        screen.query_one("#config-text", TextArea).load_text("data: [unclosed")
        await pilot.press("ctrl+l")
        assert screen.job is None and len(store.list_runs()) == before + 2


async def test_help_palette_and_small_terminal(real_copy: SimpleNamespace) -> None:
    app = RecforgeConsole(store=real_copy.store, refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Go to Runs", "Go to Models", "Go to Train", "Help"} <= set(titles)
        assert "Runs: Compare" in titles
        for key in "123456":
            await pilot.press("escape", key)
            await pilot.pause()
            assert app.screen.size.width == 80  # every section lays out at 80x24
        await pilot.press("1")
        app.open_run(real_copy.real.finished)
        await pilot.pause()
        assert isinstance(app.screen, RunDetailScreen)


async def test_help_does_not_trap_focus_and_screenshots_go_to_a_created_folder(
    real_copy: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shots = tmp_path / "not" / "there" / "yet"
    monkeypatch.setenv("RECFORGE_SCREENSHOT_DIR", str(shots))
    app = RecforgeConsole(store=real_copy.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        path_field = app.screen.query_one("#config-path", Input)
        path_field.focus()
        await pilot.pause()
        app.action_help()
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.focused, Input)  # focus left the path field ...
        await pilot.press("1")  # ... so the section keys work again
        await pilot.pause()
        assert isinstance(app.screen.query_one(RunsTable), RunsTable)
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = list(shots.glob("*.svg"))
        assert len(saved) == 1 and "<svg" in saved[0].read_text()[:400]


async def test_run_detail_number_keys_switch_tabs(real_copy: SimpleNamespace) -> None:
    app = RecforgeConsole(store=real_copy.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(real_copy.real.finished)
        await pilot.pause()
        tabs = app.screen.query_one("#run-tabs")
        for key, tab in (("6", "tab-analysis"), ("4", "tab-artifacts"), ("1", "tab-metrics")):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == tab and isinstance(app.screen, RunDetailScreen)


async def test_keys_reach_the_table_not_a_text_field_on_arrival(real_copy: SimpleNamespace) -> None:
    """j/k move the runs cursor on start; on the Train section 1 still switches sections."""
    app = RecforgeConsole(store=real_copy.store, refresh_s=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(RunsTable)
        assert app.screen.query_one("#runs-filter", Input).value == ""
        await pilot.press("j")
        assert table.cursor_row == 1 and app.screen.query_one("#runs-filter", Input).value == ""
        await pilot.press("k")
        assert table.cursor_row == 0
        assert app.screen.query_one("#runs-preview-text", Static).display  # wide: preview shown
        await pilot.press("6")
        await pilot.pause()
        assert not isinstance(app.focused, (Input, TextArea))
        await pilot.press("1")
        await pilot.pause()
        assert app.screen.query_one(RunsTable) is not None and app.screen.sub_title.startswith("Runs")
