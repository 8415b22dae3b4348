"""``recforge config schema`` / ``config check``: in process for speed, plus one real process
for the one-line error contract of the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recforge.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEEPFM = str(ROOT / "examples" / "configs" / "ml100k-ctr-deepfm.yaml")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        returned = main(list(args))
        code = returned if isinstance(returned, int) else 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_schema_lists_sections_and_component_params(capsys) -> None:
    code, out, _ = _run(capsys, "config", "schema")
    assert code == 0
    schema = json.loads(out)
    assert {"data", "model", "train", "eval"} <= set(schema["properties"])
    assert "pos_weight" in schema["$defs"]["ranker:ctr"]["properties"]
    assert "lm_lr" in schema["$defs"]["encoder:text-lm"]["properties"]
    assert "model:bpr" in schema["$defs"]  # whole models are their own kind


@pytest.mark.parametrize(("override", "expected"), [
    ("train.lr=.nan", "error: train.lr: must be a finite number"),
    ("model.ranker={name: ctr, params: {pos_wieght: 2}}", "did you mean 'pos_weight'"),
    ("train.monitor=valid.nope", "train.monitor 'valid.nope' is not a metric"),
    ("eval.metrics=[ndcg]", "needs a cut-off"),
])
def test_check_rejects_bad_configs_in_one_line(capsys, override: str, expected: str) -> None:
    code, _, err = _run(capsys, "config", "check", DEEPFM, "--set", override)
    assert code == 1 and expected in err and len(err.strip().splitlines()) == 1


def test_check_accepts_every_example_config(capsys, monkeypatch) -> None:
    monkeypatch.setenv("RECFORGE_TASKS_DIR", "/work/shared/tasks")
    for path in sorted((ROOT / "examples" / "configs").glob("*.yaml")):
        code, out, err = _run(capsys, "config", "check", str(path))
        assert code == 0 and out.startswith("ok:"), (path.name, err)


def test_console_script_prints_one_error_line() -> None:
    bad = subprocess.run([sys.executable, "-m", "recforge", "config", "check", DEEPFM, "--set", "train.patience=-1"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: train.patience: must not be negative, got -1; "
        "set train.patience to a whole number >= 0 (0 = no early stopping)"]
