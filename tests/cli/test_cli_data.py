"""``recforge data list|show|prepare``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from recforge.cli import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_data_list_json() -> None:
    result = _run("data", "list", "--json")
    names = {d["name"] for d in json.loads(result.output)}
    assert result.exit_code == 0 and {"movielens-100k", "files", "mind"} <= names


def test_data_show_counts(datasets_dir) -> None:
    result = _run("data", "show", "movielens-100k", "--json")
    info = json.loads(result.output)
    assert (info["total_rows"], info["users"], info["items"], info["positive_rate"]) == (100000, 943, 1682, 0.5537)
    result = _run("data", "show", "movielens-100k", "--set", "threshold=5", "--json")
    assert json.loads(result.output)["positive_rate"] < 0.3


def test_data_prepare_prints_fingerprint(datasets_dir) -> None:
    result = _run("data", "prepare", "criteo", "--json")
    out = json.loads(result.output[result.output.index("{"):])
    assert len(out["fingerprint"]) == 24 and out["counts"]["total_rows"] == 200
