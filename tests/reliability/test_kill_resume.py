"""Exact resume after a real SIGKILL at each stage of a real ``recforge train`` process.

``pause_at.py`` freezes a real training process at one stage (data preparation, mid-epoch,
half-written checkpoint, open metrics transaction, half-written saved model); the test then
kills it with ``SIGKILL``, runs ``recforge resume`` at once (no waiting for the heartbeat: the
dead pid is detected) and requires the metric rows of an uninterrupted run, (key, step,
value) exactly, identical final metrics, one model artifact row, no leftover ``.tmp``
folder, and a clean SQLite ``integrity_check``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import error_line, finish, last_json, recforge, spawn, write_splits

STAGES = ("data-prep", "mid-epoch", "checkpoint-write", "metrics-write", "final-save")
PAUSE = str(Path(__file__).with_name("pause_at.py"))


def _config(root: Path) -> str:
    import yaml
    from reliability_kit import base_config

    config = base_config(write_splits(root / "data"), epochs=3)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def metric_rows(home: Path, run_id: int) -> list[tuple[str, int, float | None]]:
    conn = sqlite3.connect(home / "recforge.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return sorted(conn.execute("SELECT key, step, value FROM metrics WHERE run_id = ?", (run_id,)).fetchall(),
                      key=lambda r: (r[0], r[1], r[2] if r[2] is not None else -1.0))
    finally:
        conn.close()


def model_artifacts(home: Path, run_id: int) -> int:
    conn = sqlite3.connect(home / "recforge.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM artifacts WHERE run_id = ? AND kind = 'model'", (run_id,)).fetchone()[0]
    finally:
        conn.close()


def run_ids(home: Path) -> list[int]:
    if not (home / "recforge.db").exists():
        return []
    conn = sqlite3.connect(home / "recforge.db")
    try:
        return [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def wait_ready(victim: subprocess.Popen, ready: Path, stage: str) -> None:
    deadline = time.monotonic() + 600
    while not ready.exists():
        if victim.poll() is not None:
            raise AssertionError(f"the victim ended before {stage}: {victim.communicate()}")
        if time.monotonic() > deadline:
            victim.kill()
            raise AssertionError(f"timed out waiting for {stage}")
        time.sleep(0.05)


@dataclass
class Outcome:
    """One stage: its home, the run ids after the kill, and what the resume printed."""

    home: Path
    ids_after_kill: list[int]
    code: int = -1
    out: str = ""
    err: str = ""


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference run and every stage's kill + resume, run side by side (CI has 2 cores)."""
    root = tmp_path_factory.mktemp("kill-resume")
    config = _config(root)
    reference = recforge(root / "reference", "train", config, "--json")
    victims = {stage: spawn(root / stage, PAUSE, stage, str(root / f"{stage}.ready"), "train", config, "--json")
               for stage in STAGES}
    outcomes: dict[str, Outcome] = {}
    resumes = {}
    for stage, victim in victims.items():
        wait_ready(victim, root / f"{stage}.ready", stage)
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate()
        assert victim.returncode == -signal.SIGKILL
        home = root / stage
        outcomes[stage] = Outcome(home, run_ids(home))
        # resume at once (the pid is dead); killed before the run row exists: train again
        resumes[stage] = (recforge(home, "resume", str(outcomes[stage].ids_after_kill[0]), "--json")
                          if outcomes[stage].ids_after_kill else recforge(home, "train", config, "--json"))
    code, out, err = finish(reference)
    assert code == 0, err
    for stage, proc in resumes.items():
        outcomes[stage].code, outcomes[stage].out, outcomes[stage].err = finish(proc)
    expected = last_json(out)
    return {"config": config, "expected": expected, "rows": metric_rows(root / "reference", expected["run_id"]),
            "outcomes": outcomes}


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_then_resume_gives_the_rows_of_an_uninterrupted_run(stage: str, killed: dict[str, Any]) -> None:
    outcome: Outcome = killed["outcomes"][stage]
    expected = killed["expected"]
    assert outcome.ids_after_kill == ([] if stage == "data-prep" else [1])  # no run row before data is ready
    assert outcome.code == 0, outcome.err
    result = last_json(outcome.out)
    assert result["status"] == "finished"
    assert result["valid"] == expected["valid"] and result["test"] == expected["test"]
    assert metric_rows(outcome.home, result["run_id"]) == killed["rows"]
    assert model_artifacts(outcome.home, result["run_id"]) == 1
    run_dir = outcome.home / "artifacts" / "runs" / str(result["run_id"])
    assert not list(run_dir.rglob("*.tmp*")), list(run_dir.rglob("*.tmp*"))


@pytest.mark.slow
def test_resume_of_a_live_run_says_who_runs_it(tmp_path: Path, killed: dict[str, Any]) -> None:
    """A run whose process is alive is not taken over; the one-line message names the pid."""
    home, ready = tmp_path / "home", tmp_path / "ready"
    victim = spawn(home, PAUSE, "mid-epoch", str(ready), "train", killed["config"])
    try:
        wait_ready(victim, ready, "mid-epoch")
        code, out, err = finish(recforge(home, "resume", "1"))
        assert code == 1 and error_line(err), err
        assert f"pid {victim.pid}" in err and "alive" in err and "report it" not in err
    finally:
        victim.kill()
        victim.communicate()
