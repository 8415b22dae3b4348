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
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import finish, last_json, recforge, spawn, write_splits

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


def kill_at(home: Path, stage: str, config: str, ready: Path) -> subprocess.Popen:
    victim = spawn(home, PAUSE, stage, str(ready), "train", config, "--json")
    deadline = time.monotonic() + 300
    while not ready.exists():
        if victim.poll() is not None:
            raise AssertionError(f"the victim ended before {stage}: {victim.communicate()}")
        if time.monotonic() > deadline:
            victim.kill()
            raise AssertionError(f"timed out waiting for {stage}")
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    return victim


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any], list[Any]]:
    root = tmp_path_factory.mktemp("kill-reference")
    config = _config(root)
    home = root / "home"
    code, out, err = finish(recforge(home, "train", config, "--json"))
    assert code == 0, err
    result = last_json(out)
    return root, config, result, metric_rows(home, result["run_id"])


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_then_resume_gives_the_rows_of_an_uninterrupted_run(
        stage: str, reference: tuple[Path, str, dict[str, Any], list[Any]], tmp_path: Path) -> None:
    _, config, expected, expected_rows = reference
    home = tmp_path / "home"
    kill_at(home, stage, config, tmp_path / "ready")
    ids = run_ids(home)
    if stage == "data-prep":  # killed before the run row exists: nothing to resume, train again
        assert ids == []
        code, out, err = finish(recforge(home, "train", config, "--json"))
    else:
        assert len(ids) == 1
        code, out, err = finish(recforge(home, "resume", str(ids[0]), "--json"))  # at once: the pid is dead
    assert code == 0, err
    result = last_json(out)
    assert result["status"] == "finished"
    assert result["valid"] == expected["valid"] and result["test"] == expected["test"]
    assert metric_rows(home, result["run_id"]) == expected_rows
    assert model_artifacts(home, result["run_id"]) == 1
    run_dir = home / "artifacts" / "runs" / str(result["run_id"])
    assert not list(run_dir.rglob("*.tmp*")), list(run_dir.rglob("*.tmp*"))


@pytest.mark.slow
def test_resume_of_a_live_run_says_when_and_how(tmp_path: Path,
                                                reference: tuple[Path, str, dict[str, Any], list[Any]]) -> None:
    """A run whose process is alive is not taken over; the message names the pid and --force."""
    _, config, _, _ = reference
    home = tmp_path / "home"
    ready = tmp_path / "ready"
    victim = spawn(home, PAUSE, "mid-epoch", str(ready), "train", config)
    try:
        deadline = time.monotonic() + 300
        while not ready.exists() and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.05)
        run_id = run_ids(home)[0]
        code, out, err = finish(recforge(home, "resume", str(run_id)))
        assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert f"pid {victim.pid}" in err and "alive" in err
    finally:
        victim.kill()
        victim.communicate()
