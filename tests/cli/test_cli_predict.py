"""`recforge predict|recommend|similar` through CliRunner from a run's saved model alone."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_cli_train import last_json, write_config  # noqa: E402

from recforge.cli import cli  # noqa: E402
from recforge.core.recommend import Recommender  # noqa: E402
from recforge.core.saved_model import load_model  # noqa: E402
from recforge.core.store import Store  # noqa: E402


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture()
def run(tmp_path):
    code, out = invoke("train", str(write_config(tmp_path, epochs=2)), "--json")
    assert code == 0, out
    run_id = last_json(out)["run_id"]
    with Store.open() as store:
        model_dir = Path(store.run_dir(run_id)) / "model"
    return run_id, tmp_path, model_dir


def test_predict_file_matches_model(run):
    run_id, tmp_path, model_dir = run
    out_file = tmp_path / "preds.csv"
    code, out = invoke("predict", str(run_id), str(tmp_path / "test.csv"), "--out", str(out_file), "--json")
    assert code == 0, out
    assert last_json(out)["rows"] == 300
    preds = pd.read_csv(out_file)
    assert list(preds.columns)[-1] == "prediction" and len(preds) == 300
    loaded = load_model(model_dir)
    table = loaded.data.featuremap.transform(pd.read_csv(tmp_path / "test.csv"))
    with torch.no_grad():
        expected = loaded.model.predict(table.batch(torch.arange(table.num_rows)))
    assert torch.allclose(torch.tensor(preds["prediction"].to_numpy(), dtype=torch.float32), expected, atol=1e-6)
    unlabelled = tmp_path / "unlabelled.csv"  # rows to score need no label column
    pd.read_csv(tmp_path / "test.csv").drop(columns=["label"]).to_csv(unlabelled, index=False)
    code, out = invoke("predict", str(run_id), str(unlabelled), "--out", str(tmp_path / "u.csv"))
    assert code == 0, out
    scored = pd.read_csv(tmp_path / "u.csv")
    assert "label" not in scored.columns
    assert torch.allclose(torch.tensor(scored["prediction"].to_numpy(), dtype=torch.float32), expected, atol=1e-6)
    ungendered = tmp_path / "ungendered.csv"  # the model reads gender: its column stays required
    pd.read_csv(tmp_path / "test.csv").drop(columns=["gender"]).to_csv(ungendered, index=False)
    code, out = invoke("predict", str(run_id), str(ungendered))
    assert code == 1 and "column 'gender'" in out and len(out.strip().splitlines()) == 1
    code, out = invoke("predict", str(run_id), str(tmp_path / "test.csv"), "--out", str(tmp_path / "p.txt"))
    assert code == 1 and "error:" in out and ".parquet" in out


def test_recommend_one_user_excludes_seen(run):
    run_id, tmp_path, model_dir = run
    code, out = invoke("recommend", str(run_id), "--user", "4", "-k", "5", "--exclude-seen", "--json")
    assert code == 0, out
    doc = last_json(out)
    train = pd.read_csv(tmp_path / "train.csv", dtype=str)
    seen = set(train.loc[train["user_id"] == "4", "item_id"])
    items = [r["item"] for r in doc["items"]]
    unseen = train["item_id"].nunique() - len(seen)
    assert len(items) == min(5, unseen) and not set(items) & seen
    assert [r["rank"] for r in doc["items"]] == list(range(1, len(items) + 1))
    expected = Recommender(load_model(model_dir)).recommend("4", k=5, exclude_seen=True)
    assert items == [r["item"] for r in expected]
    code, out = invoke("recommend", str(run_id), "--user", "4")
    assert code == 0 and "top-10 for user 4" in out


def test_recommend_all_users_to_file(run):
    run_id, tmp_path, _ = run
    target = tmp_path / "recs.csv"
    code, out = invoke("recommend", str(run_id), "--all-users", "--out", str(target), "-k", "3", "--json")
    assert code == 0, out
    users = last_json(out)["users"]
    rows = list(csv.DictReader(target.open()))
    assert users == 30 and len(rows) == 90
    code, out = invoke("recommend", str(run_id), "--all-users")
    assert code == 1 and "--out" in out
    code, out = invoke("recommend", str(run_id))
    assert code == 1 and "exactly one of --user" in out


def test_similar_items(run):
    run_id, _, _ = run
    code, out = invoke("similar", str(run_id), "--item", "7", "-k", "4", "--json")
    assert code == 0, out
    doc = last_json(out)
    items = [r["item"] for r in doc["items"]]
    assert len(items) == 4 and "7" not in items
    scores = [r["score"] for r in doc["items"]]
    assert scores == sorted(scores, reverse=True)
    code, out = invoke("similar", str(run_id), "--item", "nope")
    assert code == 1 and "item 'nope'" in out


def test_unknown_run_fails_cleanly():
    code, out = invoke("recommend", "42", "--user", "1")
    assert code == 1 and out.startswith("error:")
    assert json.dumps  # keep json import used for readers of this file
