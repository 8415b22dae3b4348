"""`recforge train|resume|eval|runs rerun|quickstart` through CliRunner against a real SQLite store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from trainer_fixtures import make_frame  # noqa: E402

from recforge.cli import cli  # noqa: E402
from recforge.core.config import load_config  # noqa: E402
from recforge.core.experiment import RunInterrupted, run_experiment  # noqa: E402
from recforge.core.store import Store  # noqa: E402


def write_config(tmp_path: Path, epochs: int = 2) -> Path:
    """Synthetic CSV splits + a config over them through the `files` recipe."""
    frame = make_frame(rows=3000)
    n = len(frame)
    for name, part in {"train": frame[: int(0.8 * n)], "valid": frame[int(0.8 * n): int(0.9 * n)],
                       "test": frame[int(0.9 * n):]}.items():
        part.to_csv(tmp_path / f"{name}.csv", index=False)
    config = {
        "name": "synthetic-fm", "experiment": "synthetic",
        "data": {"recipe": "files", "params": {s: str(tmp_path / f"{s}.csv") for s in ("train", "valid", "test")},
                 "fields": [{"name": "label", "kind": "label"},
                            {"name": "user_id", "kind": "categorical", "role": "user"},
                            {"name": "item_id", "kind": "categorical", "role": "item"},
                            {"name": "gender", "kind": "categorical", "role": "user"},
                            {"name": "genres", "kind": "multi_categorical", "role": "item", "sep": "|"}]},
        "model": {"embedding_dim": 8, "interaction": "fm", "ranker": "ctr",
                  "fields": ["user_id", "item_id", "gender", "genres"]},
        "train": {"epochs": epochs, "batch_size": 128, "lr": 0.05, "patience": 0, "seed": 11, "threads": 1},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def last_json(output: str) -> dict:
    start = output.rindex("\n{") + 1 if not output.startswith("{") else 0
    return json.loads(output[start:])


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_train_json_stores_the_run(tmp_path):
    code, out = invoke("train", str(write_config(tmp_path)), "--set", "train.epochs=4", "--json")
    assert code == 0, out
    doc = last_json(out)
    assert doc["status"] == "finished" and doc["best_epoch"] is not None
    assert set(doc["test"]) == {"auc", "gauc", "logloss"} and doc["test"]["auc"] > 0.8
    with Store.open() as store:
        run = store.get_run(doc["run_id"])
        assert run.status == "finished" and run.model_summary == "fm/ctr"
        steps = sorted(m.step for m in store.get_metrics(doc["run_id"], key="valid.auc"))
        assert steps[:3] == [1, 2, 3]
        assert store.latest_metrics(doc["run_id"])["test.auc"] == pytest.approx(doc["test"]["auc"])
        assert run.component_versions["fm"].startswith("recforge.plugins.interactions==")
        assert (Path(store.run_dir(doc["run_id"])) / "model" / "manifest.json").is_file()


def test_train_table_output_and_bad_override(tmp_path):
    config = write_config(tmp_path, epochs=1)
    code, out = invoke("train", str(config))
    assert code == 0 and "test" in out and "auc" in out and "model saved to" in out
    result = CliRunner().invoke(cli, ["train", str(config), "--set", "train.epochz=1"])
    assert result.exit_code == 1
    assert "error: unknown key in config section 'train' 'epochz'" in result.output


def test_interrupt_then_resume_matches_uninterrupted_run(tmp_path):
    path = write_config(tmp_path, epochs=3)
    code, out = invoke("train", str(path), "--json")
    reference = last_json(out)

    def stop_after_first_epoch(event):
        if event.kind == "epoch" and event.epoch == 1:
            raise KeyboardInterrupt

    with Store.open() as store, pytest.raises(RunInterrupted) as info:
        run_experiment(load_config(path), store, on_event=stop_after_first_epoch, progress=False)
    run_id = info.value.run_id
    with Store.open() as store:
        assert store.get_run(run_id).status == "interrupted"
        assert (Path(store.run_dir(run_id)) / "checkpoints" / "epoch-0001" / "state.json").is_file()
    code, out = invoke("resume", str(run_id), "--json")
    assert code == 0, out
    resumed = last_json(out)
    assert resumed["run_id"] == run_id and resumed["status"] == "finished"
    assert resumed["test"] == pytest.approx(reference["test"], rel=1e-6)
    code, out = invoke("resume", str(run_id))
    assert code == 1 and "already finished" in out


def test_crash_marks_run_failed(tmp_path, monkeypatch):
    import recforge.core.experiment as experiment

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(experiment, "save_model", boom)
    with Store.open() as store, pytest.raises(RuntimeError):
        run_experiment(load_config(write_config(tmp_path, epochs=1)), store, progress=False)
    with Store.open() as store:
        (run,) = store.list_runs()
        assert run.status == "failed" and "RuntimeError: disk on fire" in run.error


def test_eval_and_rerun(tmp_path):
    code, out = invoke("train", str(write_config(tmp_path)), "--json")
    first = last_json(out)
    code, out = invoke("eval", str(first["run_id"]), "--json")
    assert code == 0, out
    assert last_json(out)["test"] == pytest.approx(first["test"], rel=1e-6)
    code, out = invoke("eval", str(first["run_id"]), "--split", "valid", "--json")
    assert last_json(out)["valid"]["auc"] == pytest.approx(first["valid"]["auc"], rel=1e-6)
    code, out = invoke("runs", "rerun", str(first["run_id"]), "--json")
    assert code == 0, out
    again = last_json(out)
    assert again["run_id"] != first["run_id"] and again["test"] == pytest.approx(first["test"], rel=1e-6)
    code, out = invoke("runs", "rerun", str(first["run_id"]), "--set", "train.epochs=1", "--json")
    assert last_json(out)["epochs_run"] == 1
    code, out = invoke("eval", "999")
    assert code == 1 and out.startswith("error:")


@pytest.mark.slow
def test_train_example_config_on_ml100k(tasks_dir):
    """The peers' DeepFM config through `recforge train` (1 epoch to stay short)."""
    config = Path(__file__).parents[2] / "examples" / "configs" / "ml100k-ctr-deepfm.yaml"
    code, out = invoke("train", str(config), "--set", "train.epochs=1", "--set", "train.threads=1", "--json")
    assert code == 0, out
    doc = last_json(out)
    assert 0.70 < doc["test"]["auc"] < 0.80 and doc["epochs_run"] == 1


@pytest.mark.slow
def test_quickstart(tasks_dir):
    code, out = invoke("quickstart", "--epochs", "1", "--json")
    assert code == 0, out
    doc = last_json(out)
    assert doc["status"] == "finished" and doc["test"]["auc"] > 0.72
    assert len(doc["recommendations"]) == 10 and all(r["title"] for r in doc["recommendations"])
