"""The console's Studies screen on a study made by the real `recforge tune` (Pilot)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from textual.widgets import DataTable, Sparkline, Static

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_cli_train import invoke, write_config  # noqa: E402

from recforge.console.app import RecforgeConsole  # noqa: E402
from recforge.console.screens.run_detail import RunDetailScreen  # noqa: E402
from recforge.console.screens.studies import StudiesScreen  # noqa: E402
from recforge.core.store import Store  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_studies_screen_shows_trials_best_curve_and_importances(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"train.lr": {"log_uniform": [1.0e-3, 1.0e-1]},
                                     "model.embedding_dim": {"choice": [4, 8]}}))
    code, out = invoke("tune", str(write_config(tmp_path, epochs=2)), "--space", str(space), "--trials", "3",
                       "--pruner", "none", "--sampler", "random", "--seed", "1", "--study", "console-study")
    assert code == 0, out
    store = Store.open()
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, StudiesScreen)
        studies = screen.query_one("#studies-table", DataTable)
        assert studies.row_count == 1 and [str(c) for c in studies.get_row_at(0)[:3]] == ["console-study", "valid.auc", "3"]
        trials = screen.query_one("#trials-table", DataTable)
        assert [[str(c) for c in trials.get_row_at(i)[:2]] for i in range(3)] == [["0", "complete"], ["1", "complete"], ["2", "complete"]]
        values = [float(str(trials.get_row_at(i)[2])) for i in range(3)]
        curve = list(screen.query_one("#best-curve", Sparkline).data or [])
        assert curve == pytest.approx([max(values[: i + 1]) for i in range(3)], abs=1e-4)
        assert f"{max(values):.4f}" in str(screen.query_one("#best-label", Static).render())
        importances = str(screen.query_one("#importances", Static).render())
        assert "train.lr" in importances and "model.embedding_dim" in importances
        trials.focus()
        await pilot.press("down", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunDetailScreen)
    store.close()
