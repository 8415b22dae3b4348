"""Progress as people see it: one line per epoch in a log file, pure JSON with ``--json``."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.progress import Reporter, epoch_line, stage

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "configs" / "ml100k-ctr-lr.yaml"
EPOCH = re.compile(r"^epoch (\d+)/3  loss \d\.\d{4}  valid\.auc \d\.\d{4} .* samples/s  \d+\.\d+s$")


def _recforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "recforge", *args]


@pytest.mark.slow
def test_train_to_a_log_file_leaves_one_line_per_epoch(tasks_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    with log.open("w") as fh:  # `recforge train ... > log 2>&1`: no terminal anywhere
        done = subprocess.run(_recforge("train", str(CONFIG), "--set", "train.epochs=3", "--set", "train.patience=5",
                                        "--set", "train.threads=1"),
                              stdout=fh, stderr=subprocess.STDOUT, timeout=300, env={**os.environ}, check=False)
    text = log.read_text()
    assert done.returncode == 0, text
    epochs = [int(m.group(1)) for m in map(EPOCH.match, text.splitlines()) if m]
    assert epochs == [1, 2, 3], text
    assert "\r" not in text  # no bar redraws in a file
    # --json: stdout is one JSON document; stderr has no progress at all
    out = CliRunner().invoke(cli, ["train", str(CONFIG), "--set", "train.epochs=1", "--set", "train.threads=1", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["status"] == "finished"
    assert "epoch 1/1" not in out.stderr


@pytest.mark.slow
def test_json_silences_transformers_bars() -> None:
    """transformers' "Loading weights" tqdm bar stays off stderr with --json (real MiniLM)."""
    probe = (
        "import sys\n"
        "from recforge.cli import quiet_third_party_bars\n"
        "quiet_third_party_bars(as_json=sys.argv[1] == 'json')\n"
        "from recforge.plugins.encoders.lm_backend import LMBackend\n"
        "print(tuple(LMBackend().encode(['a title']).shape))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE")}
    quiet = subprocess.run([sys.executable, "-c", probe, "json"], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "(1, 384)", quiet.stderr
    assert "Loading weights" not in quiet.stderr and "it/s" not in quiet.stderr


def test_reporter_without_a_terminal_writes_plain_lines() -> None:
    stream = io.StringIO()
    with Reporter(stream=stream) as rep:
        rep.start("epoch 1/2", 100)
        assert not rep.due()  # no bar without a terminal
        rep.update(50)
        rep.line(epoch_line(1, 2, {"train.loss": 0.5, "valid.auc": 0.75, "test.auc": 0.7}, 12345.6, 1.25))
    assert stream.getvalue() == "epoch 1/2  loss 0.5000  valid.auc 0.7500  12,346 samples/s  1.2s\n"
    silent = io.StringIO()
    with Reporter(enabled=False, stream=silent) as rep:
        rep.line("nothing")
    assert silent.getvalue() == ""


def test_stage_leaves_a_done_line(capsys: pytest.CaptureFixture[str]) -> None:
    with stage("preparing data", on=True):
        pass
    assert re.fullmatch(r"preparing data: done in \d+\.\ds\n", capsys.readouterr().err)
    with stage("library use"):  # the process-wide switch is off outside the CLI
        pass
    assert capsys.readouterr().err == ""
