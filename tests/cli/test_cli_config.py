"""``recforge config schema`` / ``config check`` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recforge", *args], capture_output=True, text=True, cwd=ROOT)


def test_schema_lists_sections_and_component_params() -> None:
    out = _cli("config", "schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert {"data", "model", "train", "eval"} <= set(schema["properties"])
    assert "pos_weight" in schema["$defs"]["ranker:ctr"]["properties"]
    assert "lm_lr" in schema["$defs"]["encoder:text-lm"]["properties"]


def test_check_accepts_an_example_and_rejects_bad_values_in_one_line(tmp_path: Path) -> None:
    good = _cli("config", "check", "examples/configs/ml100k-ctr-deepfm.yaml")
    assert good.returncode == 0 and good.stdout.startswith("ok:"), good.stderr
    bad = _cli("config", "check", "examples/configs/ml100k-ctr-deepfm.yaml", "--set", "train.lr=.nan")
    assert bad.returncode != 0
    assert bad.stderr.strip().startswith("error: train.lr") and len(bad.stderr.strip().splitlines()) == 1
    params = _cli("config", "check", "examples/configs/ml100k-ctr-deepfm.yaml", "--set", "model.ranker={name: ctr, params: {pos_wieght: 2}}")
    assert params.returncode != 0 and "did you mean 'pos_weight'" in params.stderr
