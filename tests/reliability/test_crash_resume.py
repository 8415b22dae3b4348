"""A trainer killed with SIGKILL mid-epoch: detected by its missing heartbeat, then resumed.

Real processes on real data: ``recforge train`` (LR on ml100k-ctr, 1 thread) is killed while
its second epoch runs; ``recforge runs list`` must not show it ``running`` forever (with a
short ``RECFORGE_STALE_AFTER_S`` it reports ``failed``: process died), and ``recforge resume``
must continue from the epoch-1 checkpoint to the test metrics of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import REPO, finish, last_json, recforge

CONFIG = REPO / "examples" / "configs" / "ml100k-ctr-lr.yaml"
SETTINGS = ["train.epochs=3", "train.threads=1", "train.batch_size=256", "train.patience=0"]


def train_args() -> list[str]:
    return ["train", str(CONFIG), *[a for s in SETTINGS for a in ("--set", s)], "--json"]


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_epoch_is_detected_and_resumes_to_the_same_metrics(tmp_path: Path, tasks_dir: Path) -> None:
    home = tmp_path / "home"
    code, out, err = finish(recforge(home, *train_args()))
    assert code == 0, err
    reference = last_json(out)

    victim = recforge(home, *train_args())
    runs_dir = home / "artifacts" / "runs"

    def first_checkpoint() -> Path | None:
        hits = [p for p in runs_dir.glob("*/checkpoints/epoch-0001/state.json") if p.parts[-4] != str(reference["run_id"])]
        return hits[0] if hits else None

    try:
        state = wait_for(first_checkpoint, 600, "the victim's first checkpoint")
        assert victim.poll() is None, "the victim finished before it could be killed"
        os.kill(victim.pid, signal.SIGKILL)  # epoch 2 has just started
    finally:
        victim.kill()
        victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    run_id = int(state.parts[-4])
    assert not (state.parents[1] / "epoch-0003").exists()

    # a fresh heartbeat: still presumed alive under the default 300 s
    code, out, err = finish(recforge(home, "runs", "list", "--json"))
    assert code == 0, err
    assert {r["id"]: r["status"] for r in last_json(out)}[run_id] == "running"
    # silence longer than the timeout: the dead process is reported
    time.sleep(1.5)
    code, out, err = finish(recforge(home, "runs", "list", "--json", env={"RECFORGE_STALE_AFTER_S": "1"}))
    assert code == 0, err
    row = {r["id"]: r for r in last_json(out)}[run_id]
    assert row["status"] == "failed" and row["error"] == "process died (no heartbeat)"

    code, out, err = finish(recforge(home, "resume", str(run_id), "--json"))
    assert code == 0, err
    resumed = last_json(out)
    assert resumed["status"] == "finished" and resumed["epochs_run"] == reference["epochs_run"] == 3
    assert resumed["test"] == pytest.approx(reference["test"], rel=1e-9, abs=1e-12)
    assert resumed["valid"] == pytest.approx(reference["valid"], rel=1e-9, abs=1e-12)
