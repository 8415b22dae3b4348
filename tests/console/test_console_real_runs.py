"""The console driving real training: the launcher runs ``run_experiment`` on ml100k-ctr.

Cancelling a launched run is covered with a stand-in runner in ``test_console_app.py`` and
the trainer's own interrupt handling in ``tests/reliability/test_interrupts.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, ProgressBar, Static

from recforge.console.app import RecforgeConsole
from recforge.console.screens.train_launcher import TrainLauncherScreen
from recforge.console.widgets.runs_table import RunsTable
from recforge.core.store import Store

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "configs" / "ml100k-ctr-lr.yaml"


async def _wait(pilot: Any, done: Any, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        if done():
            return
        await pilot.pause(0.1)


async def test_launcher_trains_for_real(tasks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open()
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        screen = app.screen
        assert isinstance(screen, TrainLauncherScreen)
        screen.load_text(CONFIG.read_text())
        bar = screen.query_one("#train-progress", ProgressBar)
        seen: list[tuple[str, float]] = []
        shown = TrainLauncherScreen.on_train_progress

        def record(self: TrainLauncherScreen, message: Any) -> None:
            shown(self, message)
            seen.append((message.event["kind"], bar.percentage or 0.0))

        monkeypatch.setattr(TrainLauncherScreen, "on_train_progress", record)
        screen.query_one("#overrides", Input).value = "train.epochs=2 train.patience=5 train.threads=1"
        await pilot.press("ctrl+l")
        await _wait(pilot, lambda: screen.last_status in ("finished", "failed"), 240)
        assert screen.last_status == "finished"
        # the bar moves within the first epoch (20 steps on ml100k) and reads 100% at the end
        assert any(kind == "step" and 0 < value < 0.5 for kind, value in seen), seen
        assert [value for kind, value in seen if kind == "epoch"] == [0.5, 1.0]
        assert bar.percentage == 1.0
        assert "step 0/" not in str(screen.query_one("#train-status", Static).render())
        run = store.get_run(screen.last_run_id)
        assert run.status == "finished"
        metrics = store.latest_metrics(run.id)
        assert 0.6 < metrics["test.auc"] < 0.9 and "valid.auc" in metrics
        first = run.id

        # the runs screen lists the real run with its metric
        await pilot.press("escape", "1")  # leave the overrides input first
        await pilot.pause(0.2)
        table = app.screen.query_one(RunsTable)
        assert table.row_count == 1
        assert str(first) in [str(cell) for cell in table.get_row_at(0)]
