"""Pilot tests: every screen and action of the console against a real SQLite store."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import DataTable, Input, RichLog, Static, TextArea

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
from recforge.core.registry import get_registry
from recforge.core.store import Store
from recforge.services import plugins as pip_runner

pytestmark = pytest.mark.anyio


def column(table: DataTable[Any], name: str) -> list[str]:
    """Plain text of one column, top to bottom."""
    key = next(k for k, col in table.columns.items() if name in (k.value, col.label.plain))
    return [str(table.get_cell(row, key)) for row in table.rows]


async def test_runs_table_lists_sorts_and_filters(filled: SimpleNamespace) -> None:
    app = RecforgeConsole(store=filled.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        assert column(table, "id") == ["4", "3", "2", "1"]  # newest first
        assert table.metric_columns == ["valid.auc", "valid.logloss"]
        assert column(table, "valid.auc") == ["0.7200", "", "0.7900", "0.7500"]
        assert column(table, "duration") == ["1m35s"] * 4
        await pilot.press("slash", *"status:finished", "enter")
        assert column(table, "id") == ["2", "1"]
        await pilot.press("escape")
        assert table.row_count == 4
        await pilot.press("s", "s")  # id -> status -> experiment? first press: status
        assert table.sort_column in ("status", "experiment")
        table.sort_column, table.sort_reverse = "valid.auc", True
        table.rerender()
        assert column(table, "id")[:3] == ["2", "1", "4"]  # 0.79, 0.75, 0.72; the failed run last


async def test_runs_refresh_live_while_another_store_writes(filled: SimpleNamespace) -> None:
    """A second Store (its own engine and connections, as another process) trains into the same
    database while the console re-queries every 50 ms: no lock errors, no stale rows."""
    writer = Store.open()
    errors: list[BaseException] = []

    def train() -> None:
        try:
            run = writer.create_run(experiment="ml100k-ctr", name="concurrent", config={"data": {}})
            writer.start_run(run.id)
            for epoch in range(1, 21):
                writer.log_metrics(run.id, {"valid.auc": 0.5 + epoch / 100}, step=epoch)
                writer.heartbeat(run.id)
                time.sleep(0.01)
            writer.finish_run(run.id)
            writer.delete_run(filled.ids["failed"])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    app = RecforgeConsole(store=filled.store, refresh_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        thread = threading.Thread(target=train)
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        table = app.screen.query_one(RunsTable)
        assert not errors
        assert column(table, "id") == ["5", "4", "2", "1"]  # new run in, deleted run gone
        assert column(table, "status")[0] == "finished"
        assert column(table, "valid.auc")[0] == "0.7000"  # 0.5 + 20/100, the last epoch
    writer.close()


async def test_run_detail_shows_chart_analysis_and_versions(filled: SimpleNamespace) -> None:
    app = RecforgeConsole(store=filled.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(filled.ids["a"])
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunDetailScreen)
        chart = screen.query_one(MetricChart)
        assert [v for _, v in chart.series["valid.auc"]] == filled.auc_a
        assert chart.selected == "valid.auc"
        await pilot.press("m")
        assert chart.selected == "valid.logloss"
        heat = screen.query_one(Heatmap)
        assert heat.labels == ["user_id", "item_id", "genres", "age"] and heat.vmax() == 0.02
        bars = screen.query_one(ImportanceBars)
        assert [i.field for i in bars.items] == ["item_id", "user_id", "genres", "age"]
        artifacts = screen.query_one("#artifacts-table", DataTable)
        assert column(artifacts, "kind") == ["analysis"]
        params = screen.query_one("#params-table", DataTable)
        assert "embedding_dim" in column(params, "param")
        await pilot.press("escape")
        app.open_run(filled.ids["b"])
        await pilot.pause()
        assert "recforge analyze 2" in str(app.screen.query_one(".note", Static).render())


async def test_run_detail_actions_export_register_delete(filled: SimpleNamespace, tmp_path: Path) -> None:
    store = filled.store
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(filled.ids["a"])
        await pilot.pause()
        # export
        await pilot.press("e")
        assert isinstance(app.screen, PromptDialog)
        target = tmp_path / "out" / "run1.json"
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        doc = json.loads(target.read_text())
        assert [p["value"] for p in doc["metrics"]["valid.auc"]] == filled.auc_a
        assert doc["config"] == filled.config_a and doc["latest_metrics"]["valid.auc"] == 0.75
        # register
        await pilot.press("g")
        app.screen.query_one(Input).value = "ctr-lr"
        await pilot.press("enter")
        assert [(m.name, m.version, m.run_id) for m in store.list_models()][-1] == ("ctr-lr", 3, 1)
        # delete, first declined then confirmed
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert store.get_run(filled.ids["a"]).id == 1
        await pilot.press("x", "y")  # refused: registered versions use the run's model (issue 17)
        await pilot.pause()
        assert [r.id for r in store.list_runs()] == [4, 3, 2, 1]
        assert isinstance(app.screen, RunDetailScreen)
        for mv in store.dependent_models(filled.ids["a"]):
            store.delete_model(mv.name, mv.version)
        await pilot.press("x", "y")
        await pilot.pause()
        assert [r.id for r in store.list_runs()] == [4, 3, 2]
        assert not isinstance(app.screen, RunDetailScreen)


async def test_rerun_and_resume_open_the_launcher(filled: SimpleNamespace) -> None:
    app = RecforgeConsole(store=filled.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(filled.ids["a"])
        await pilot.pause()
        await pilot.press("u")  # finished: resume refused
        assert isinstance(app.screen, RunDetailScreen)
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TrainLauncherScreen)
        assert screen.current_config() == filled.config_a and screen.resume_run_id is None
        await pilot.press("escape", "1")  # leave the editor, then go to Runs
        app.open_run(filled.ids["running"])
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, TrainLauncherScreen) and app.screen.resume_run_id == 4


async def test_compare_marked_runs(filled: SimpleNamespace) -> None:
    app = RecforgeConsole(store=filled.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")  # nothing marked: a warning, no screen
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("down", "down", "space", "down", "space", "c")  # runs 2 and 1
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.run_ids == [1, 2]
        metrics = screen.query_one("#compare-metrics", DataTable)
        rows = {str(r[0]): r for r in (metrics.get_row(k) for k in metrics.rows)}
        assert str(rows["valid.auc"][3]) == "+0.0400"  # 0.79 - 0.75
        # both improved: AUC went up, logloss went down; each is green by its own direction
        assert rows["valid.auc"][3].style == "green" and str(rows["valid.logloss"][3]) == "-0.0300"
        assert rows["valid.logloss"][3].style == "green"
        config = screen.query_one("#compare-config", DataTable)
        keys = column(config, "key")
        assert keys == ["model.embedding_dim", "model.interaction", "name", "train.lr"]


async def test_models_promote_tag_delete(filled: SimpleNamespace) -> None:
    store = filled.store
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#models-table", DataTable)
        assert column(table, "version") == ["1", "2"] and column(table, "tags")[0] == "owner=ops"
        await pilot.press("p")
        app.screen.query_one(Input).value = "production"
        await pilot.press("enter")
        assert store.get_model("ctr-lr", 1).stage == "production"
        await pilot.press("p")
        app.screen.query_one(Input).value = "shipping"  # unknown stage: error, nothing changes
        await pilot.press("enter")
        assert store.get_model("ctr-lr", 1).stage == "production"
        await pilot.press("t")
        app.screen.query_one(Input).value = "team=recs"
        await pilot.press("enter")
        assert store.get_model("ctr-lr", 1).tags == {"owner": "ops", "team": "recs"}
        await pilot.press("t")
        app.screen.query_one(Input).value = "-owner"
        await pilot.press("enter")
        assert store.get_model("ctr-lr", 1).tags == {"team": "recs"}
        await pilot.press("down", "x", "y")
        await pilot.pause()
        assert [(m.name, m.version) for m in store.list_models()] == [("ctr-lr", 1)]
        assert column(table, "version") == ["1"]


async def test_plugins_list_and_install_shows_pip_output(
    filled: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def fake_pip(action: str, package: str) -> list[str]:
        calls.append((action, package))
        import sys

        return [sys.executable, "-c", f"print('Successfully {action}ed {package}')"]

    monkeypatch.setattr(pip_runner, "pip_command", fake_pip)
    app = RecforgeConsole(store=filled.store, refresh_s=None)
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


async def test_components_and_datasets_screens(filled: SimpleNamespace) -> None:
    reg = get_registry()
    app = RecforgeConsole(store=filled.store, refresh_s=None)
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
        prepared = app.screen.query_one("#prepared-table", DataTable)
        assert column(prepared, "counts") == ["train=80000 valid=10000 test=10000"]


async def test_train_launcher_runs_and_cancels_into_the_store(filled: SimpleNamespace) -> None:
    """A runner that records into the real store and honours cancellation like the trainer."""
    store = filled.store
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

    text = json.dumps({**filled.config_a, "name": "launched"})  # JSON is YAML
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
        assert screen.last_status == "finished" and screen.last_run_id == 5
        assert store.get_run(5).status == "finished"
        assert [m.value for m in store.get_metrics(5)] == [0.61, 0.62]  # two epochs: the override
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
        assert screen.last_status == "interrupted" and screen.last_run_id == 6
        assert store.get_run(6).status == "interrupted"
        # a broken config is reported, nothing launched
        screen.query_one("#config-text", TextArea).load_text("data: [unclosed")
        await pilot.press("ctrl+l")
        assert screen.job is None and len(store.list_runs()) == 6


async def test_help_palette_and_small_terminal(filled: SimpleNamespace) -> None:
    app = RecforgeConsole(store=filled.store, refresh_s=None)
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
        app.open_run(filled.ids["a"])
        await pilot.pause()
        assert isinstance(app.screen, RunDetailScreen)


async def test_help_does_not_trap_focus_and_screenshots_go_to_a_created_folder(
    filled: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shots = tmp_path / "not" / "there" / "yet"
    monkeypatch.setenv("RECFORGE_SCREENSHOT_DIR", str(shots))
    app = RecforgeConsole(store=filled.store, refresh_s=None)
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


async def test_run_detail_number_keys_switch_tabs(filled: SimpleNamespace) -> None:
    app = RecforgeConsole(store=filled.store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(filled.ids["a"])
        await pilot.pause()
        tabs = app.screen.query_one("#run-tabs")
        for key, tab in (("6", "tab-analysis"), ("4", "tab-artifacts"), ("1", "tab-metrics")):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == tab and isinstance(app.screen, RunDetailScreen)


async def test_keys_reach_the_table_not_a_text_field_on_arrival(filled: SimpleNamespace) -> None:
    """j/k move the runs cursor on start; on the Train section 1 still switches sections."""
    app = RecforgeConsole(store=filled.store, refresh_s=None)
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
