"""A run reports its final evaluation's metrics (the restored best epoch's), not the last epoch's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.store import Store
from recforge.core.store.compare import compare_runs
from recforge.core.store.reported import reported_values
from recforge.services.runs import list_run_rows

REPO = Path(__file__).resolve().parents[3]


def log_like_the_trainer(store: Store, run_id: int, valid: list[float], best: int, test: float) -> None:
    """Per-epoch train/valid rows, then the final evaluation at the best epoch's step."""
    for epoch, value in enumerate(valid, start=1):
        store.log_metrics(run_id, {"train.loss": 1.0 / epoch, "valid.auc": value}, step=epoch)
    store.log_metrics(run_id, {"valid.auc": valid[best - 1], "test.auc": test}, step=best)


def test_reported_values_take_the_final_evaluation_step() -> None:
    series = {"valid.auc": [(1, 0.70), (2, 0.78), (3, 0.75)], "test.auc": [(2, 0.79)],
              "train.loss": [(1, 0.6), (2, 0.5), (3, 0.4)]}
    assert reported_values(series) == {"valid.auc": 0.78, "test.auc": 0.79, "train.loss": 0.4}
    no_final = {"valid.auc": [(1, 0.70), (2, 0.68)]}  # running, failed or interrupted
    assert reported_values(no_final) == {"valid.auc": 0.68}


def test_runs_table_and_compare_rank_by_the_model_they_keep() -> None:
    with Store.open() as store:
        early = store.create_run("e", name="early-best", config={}, plugins={})
        late = store.create_run("e", name="late-best", config={}, plugins={})
        log_like_the_trainer(store, early.id, [0.70, 0.80, 0.72, 0.71], best=2, test=0.81)
        log_like_the_trainer(store, late.id, [0.70, 0.74, 0.76], best=3, test=0.77)
        rows = {r.name: r.metrics for r in list_run_rows(store)}
        compared = {m.key: m.values for m in compare_runs(store, [early.id, late.id]).metrics}
        assert store.reported_metrics(early.id)["valid.auc"] == 0.80
        assert store.latest_metrics(early.id)["valid.auc"] == 0.71  # the history is kept as logged
    assert rows["early-best"]["valid.auc"] == 0.80 and rows["late-best"]["valid.auc"] == 0.76
    assert compared["valid.auc"] == {1: 0.80, 2: 0.76}


@pytest.mark.slow
def test_runs_list_shows_the_valid_auc_train_reported(recforge_env: Path) -> None:
    config = str(REPO / "examples" / "configs" / "ml100k-ctr-fm-tuned.yaml")
    trained = CliRunner().invoke(cli, ["train", config, "--set", "train.threads=1", "--json"], catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    out = trained.output
    report = json.loads(out[out.rindex("\n{") + 1:] if not out.startswith("{") else out)
    listed = CliRunner().invoke(cli, ["runs", "list", "--json"], catch_exceptions=False)
    run = json.loads(listed.output)[0]
    assert run["metrics"]["valid.auc"] == pytest.approx(report["valid"]["auc"], abs=1e-12)
    assert run["metrics"]["test.auc"] == pytest.approx(report["test"]["auc"], abs=1e-12)
