"""`recforge train --seeds N` and the sealed test split (never read before training ends)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_cli_train import invoke, last_json, write_config  # noqa: E402

from recforge.core import experiment  # noqa: E402
from recforge.core.config import load_config  # noqa: E402
from recforge.core.data.sealed import SealedSplits, TestSplitSealed  # noqa: E402
from recforge.core.store import Store  # noqa: E402


@pytest.mark.slow
def test_train_seeds_reports_mean_and_std_of_every_metric(tmp_path):
    code, out = invoke("train", str(write_config(tmp_path)), "--seeds", "3", "--json")
    assert code == 0, out
    doc = last_json(out)
    assert doc["seeds"] == [11, 12, 13] and len(set(doc["run_ids"])) == 3
    for key in ("valid.auc", "valid.logloss", "test.auc", "test.gauc"):
        split, name = key.split(".")
        values = [run[split][name] for run in doc["runs"]]
        assert doc["mean"][key] == pytest.approx(statistics.fmean(values))
        assert doc["std"][key] == pytest.approx(statistics.stdev(values))
    assert len({round(run["valid"]["auc"], 6) for run in doc["runs"]}) == 3  # the seeds did differ
    with Store.open() as store:
        runs = [store.get_run(i) for i in doc["run_ids"]]
    assert [r.seed for r in runs] == [11, 12, 13]
    assert {r.params_dict["seed_group"] for r in runs} == {doc["group"]}
    code, out = invoke("train", str(write_config(tmp_path)), "--seeds", "2", "--nproc", "2")
    assert code == 1 and "--seeds cannot be combined with --nproc" in out


def test_sealed_splits_refuse_the_test_tables_until_unsealed():
    splits = SealedSplits({"train": 1, "valid": 2, "test": 3})
    assert "test" in splits and list(splits) == ["train", "valid", "test"] and splits["valid"] == 2
    for read in (lambda: splits["test"], lambda: splits.get("test"), splits.values, splits.items):
        with pytest.raises(TestSplitSealed, match="the test split was read before training ended"):
            read()
    splits.unseal()
    assert splits["test"] == 3 and list(splits.values()) == [1, 2, 3]


@pytest.mark.slow
def test_the_test_split_is_read_once_after_training_ends(tmp_path, monkeypatch):
    """An access log over a real run: valid is read every epoch, test once after the trainer's
    end event; and a read of test from inside training is refused."""
    log: list[tuple[str, bool]] = []
    ended = {"flag": False}
    evaluate, fit = experiment.evaluate, experiment._fit

    def logged_evaluate(model, prepared, split, *args, **kwargs):
        log.append((split, ended["flag"]))
        return evaluate(model, prepared, split, *args, **kwargs)

    def fit_that_peeks(model, prepared, *args, **kwargs):
        with pytest.raises(TestSplitSealed):
            prepared.splits["test"]
        return fit(model, prepared, *args, **kwargs)

    def on_event(event):
        if event.kind == "end":
            ended["flag"] = True

    monkeypatch.setattr(experiment, "evaluate", logged_evaluate)
    monkeypatch.setattr(experiment, "_fit", fit_that_peeks)
    config = load_config(write_config(tmp_path, epochs=3))
    with Store.open() as store:
        result = experiment.run_experiment(config, store, on_event=on_event, progress=False)
    assert result.status == "finished" and result.test
    assert log == [("valid", False)] * 3 + [("test", True)]
