"""``recforge analyze``: errors in one line; end to end on a run trained through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.store import Store

REPO = Path(__file__).resolve().parents[3]


def test_unknown_run_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["analyze", "424242"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: run 424242 does not exist; see `recforge runs list`"


def test_run_without_model_names_the_fix() -> None:
    with Store.open() as store:
        run = store.create_run("exp", name="empty")
    result = CliRunner().invoke(cli, ["analyze", str(run.id)])
    assert result.exit_code == 1
    assert "has no saved model" in result.stderr and "recforge train" in result.stderr


@pytest.mark.slow
def test_train_then_analyze_end_to_end(tmp_path: Path, tasks_dir: Path) -> None:
    config = REPO / "examples" / "configs" / "ml100k-ctr-deepfm-text.yaml"
    runner = CliRunner()
    trained = runner.invoke(cli, ["train", str(config), "--set", "train.epochs=1", "--set", "train.threads=1",
                                  "--set", "model.encoders.item_text={name: text-hash}", "--json"])
    assert trained.exit_code == 0, trained.output
    run_id = json.loads(trained.stdout[trained.stdout.index("{"):])["run_id"]
    plots = tmp_path / "plots"
    result = runner.invoke(cli, ["analyze", str(run_id), "--json", "--repeats", "2", "--sample", "12",
                                 "--max-rows", "2000", "--plot", str(plots)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    fields = ["user_id", "item_id", "gender", "age_bucket", "occupation", "zip1", "release_year", "genres",
              "item_text"]
    assert report["run_id"] == run_id and report["fields"] == fields  # title is display-only, not analysed
    assert 0.5 < report["baseline"] <= 1.0 and report["rows"] == 2000
    assert len(report["pairs"]["permutation"]) == len(fields) * (len(fields) - 1) // 2
    assert {f["field"] for f in report["summary"]["top_fields"][:2]} & {"user_id", "item_id"}
    assert report["text_vs_ids"]["groups"]["text"] == ["item_text"]
    assert report["text_vs_ids"]["warm"]["rows"] > 1900
    assert any(v["kind"] == "pair_weights" for v in report["model_views"].values())  # DeepFM's FM branch
    assert {"analysis.json", "pair_strength.png", "field_importance.png"} <= {p.name for p in plots.iterdir()}
    with Store.open() as store:
        kinds = [a.kind for a in store.get_run(run_id).artifacts]
    assert kinds.count("analysis") >= 5
