"""``recforge runs list|show|delete|compare`` through click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core import paths
from recforge.core.store import Store


@pytest.fixture
def runs() -> list[int]:
    """Three runs: 1 finished (auc 0.7 -> 0.75), 2 finished (auc 0.8), 3 failed."""
    with Store.open() as store:
        a = store.create_run("exp", name="a", config={"train": {"lr": 0.1}}, seed=1, plugins={"p": "1"})
        b = store.create_run("exp", name="b", config={"train": {"lr": 0.2}}, seed=1, plugins={})
        c = store.create_run("other", name="c", plugins={})
        for run in (a, b, c):
            store.start_run(run.id)
        store.log_params(a.id, {"lr": 0.1})
        store.log_metrics(a.id, {"auc": 0.7}, step=1)
        store.log_metrics(a.id, {"auc": 0.75}, step=2)
        store.log_metrics(b.id, {"auc": 0.8}, step=1)
        (store.run_dir(a.id) / "m.txt").write_text("x")
        store.log_artifact(a.id, "model", store.run_dir(a.id) / "m.txt")
        store.finish_run(a.id)
        store.finish_run(b.id)
        store.fail_run(c.id, "boom")
        return [a.id, b.id, c.id]


def _json(*args: str) -> object:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_filters_and_json(runs: list[int]) -> None:
    listed = _json("runs", "list")
    assert [r["id"] for r in listed] == [3, 2, 1]
    assert listed[2]["metrics"] == {"auc": 0.75} and listed[0]["error"] == "boom"
    assert [r["id"] for r in _json("runs", "list", "--status", "finished")] == [2, 1]
    assert [r["id"] for r in _json("runs", "list", "--experiment", "other")] == [3]
    table = CliRunner().invoke(cli, ["runs", "list"])
    assert table.exit_code == 0 and "auc" in table.stdout and "0.75" in table.stdout  # metric columns


def test_show(runs: list[int]) -> None:
    shown = _json("runs", "show", "1")
    assert shown["config"] == {"train": {"lr": 0.1}} and shown["params"] == {"lr": 0.1}
    assert [(m["step"], m["value"]) for m in shown["metric_history"]] == [(1, 0.7), (2, 0.75)]
    assert shown["artifacts"][0]["kind"] == "model" and shown["artifacts"][0]["size"] == 1
    assert shown["plugin_versions"] == {"p": "1"}
    text = CliRunner().invoke(cli, ["runs", "show", "1"])
    assert text.exit_code == 0 and "finished" in text.stdout and '"lr": 0.1' in text.stdout


def test_missing_run_is_one_error_line(runs: list[int]) -> None:
    result = CliRunner().invoke(cli, ["runs", "show", "42"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: run 42 does not exist; see `recforge runs list`"


def test_delete_confirms_and_removes(runs: list[int]) -> None:
    folder = paths.artifacts_dir() / "runs" / "1"
    declined = CliRunner().invoke(cli, ["runs", "delete", "1"], input="n\n")
    assert declined.exit_code != 0 and folder.exists()
    result = CliRunner().invoke(cli, ["runs", "delete", "1", "-y"])
    assert result.exit_code == 0 and "deleted run 1" in result.stdout
    assert not folder.exists() and [r["id"] for r in _json("runs", "list")] == [3, 2]


def test_compare(runs: list[int]) -> None:
    data = _json("runs", "compare", "1", "2")
    auc = data["metrics"][0]
    assert auc["key"] == "auc" and auc["values"] == {"1": 0.75, "2": 0.8}
    assert auc["deltas"]["2"] == pytest.approx(0.05)
    assert data["config"] == [{"key": "train.lr", "values": {"1": 0.1, "2": 0.2}}]
    table = CliRunner().invoke(cli, ["runs", "compare", "1", "2"])
    assert table.exit_code == 0 and "+0.05" in table.stdout and "train.lr" in table.stdout
    single = CliRunner().invoke(cli, ["runs", "compare", "1"])
    assert single.exit_code == 1 and single.stderr.startswith("error: compare needs at least two runs")
