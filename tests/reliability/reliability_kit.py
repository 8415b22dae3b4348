"""Helpers shared by the reliability tests (not a test file).

* :func:`run_cli` runs ``recforge.cli.main`` in this process exactly as the console script
  does and returns ``(exit code, stdout, stderr)``: the one-line error contract lives in
  ``main``, so this is what a user sees.
* :func:`error_line` (and :func:`final_line`) check the one-line error contract on stderr:
  progress lines may come first, then exactly one ``error:`` line, the last, no traceback.
* :func:`store_snapshot` reads the store's rows (runs with their status, and the number of
  params, metrics and artifacts) straight from SQLite, so "no change to stored runs" is
  checked without going through the code under test.
* :class:`Workspace` is one bad-input case's sandbox: a copy of a template RECFORGE_HOME with
  one finished run and its saved model, the synthetic CSV splits and a valid config, plus
  helpers that write broken variants of each.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from trainer_fixtures import make_frame

SPLITS = ("train", "valid", "test")
FIELDS = [
    {"name": "label", "kind": "label"},
    {"name": "user_id", "kind": "categorical", "role": "user"},
    {"name": "item_id", "kind": "categorical", "role": "item"},
    {"name": "gender", "kind": "categorical", "role": "user"},
    {"name": "genres", "kind": "multi_categorical", "role": "item", "sep": "|"},
]


def write_splits(folder: Path, rows: int = 1200, seed: int = 0) -> dict[str, Path]:
    """The synthetic frame of the trainer tests as train/valid/test CSV files (8:1:1)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = make_frame(rows=rows, seed=seed)
    n = len(frame)
    parts = {"train": frame[: int(0.8 * n)], "valid": frame[int(0.8 * n): int(0.9 * n)], "test": frame[int(0.9 * n):]}
    out = {}
    for name, part in parts.items():
        out[name] = folder / f"{name}.csv"
        part.to_csv(out[name], index=False)
    return out


def base_config(files: dict[str, Path], epochs: int = 1, interaction: str = "fm") -> dict[str, Any]:
    """A small, valid FM config over ``files`` (1 thread, seconds to train)."""
    return {
        "name": f"synthetic-{interaction}", "experiment": "reliability",
        "data": {"recipe": "files", "params": {s: str(p) for s, p in files.items()}, "fields": [dict(f) for f in FIELDS]},
        "model": {"embedding_dim": 4, "interaction": interaction, "ranker": "ctr",
                  "fields": ["user_id", "item_id", "gender", "genres"]},
        "train": {"epochs": epochs, "batch_size": 256, "lr": 0.05, "patience": 0, "seed": 7, "threads": 1},
        "eval": {"metrics": ["auc", "logloss"]},
    }


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``recforge ARGV`` through the real entry point; returns (exit code, stdout, stderr)."""
    from recforge.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))  # the console script does sys.exit(main())
        except SystemExit as stop:
            code = stop.code
    if code is None:
        code = 0
    return code if isinstance(code, int) else 1, out.getvalue(), err.getvalue()


#: what a command may print to stderr before its last line without a terminal (recforge.core.progress):
#: ``<stage>: done in 0.4s`` and ``epoch 2/3  loss ...  0.3s``
PROGRESS_LINE = re.compile(r"^(?!error: )(epoch \d+/\d+(\s.*)?|.+: done in \d+(\.\d+)?s)$")


def final_line(err: str) -> str:
    """The last stderr line of a command that stopped, after checking the contract around it.

    Progress lines (:data:`PROGRESS_LINE`) may precede it; nothing else may (no warning, no
    second message, no traceback). Returns the last non-blank line.
    """
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "stderr was empty"
    stray = [line for line in lines[:-1] if not PROGRESS_LINE.match(line)]
    assert not stray, f"stderr has lines other than progress before its last line {stray}:\n{err}"
    return lines[-1]


def error_line(err: str) -> str:
    """The one ``error: ...`` line a failed command prints: exactly one, the last line of
    stderr, no traceback; only progress lines may come before it. Returns that line."""
    line = final_line(err)
    assert line.startswith("error: "), f"the last stderr line is not an error line:\n{err}"
    return line


def store_snapshot(home: Path) -> Any:
    """What a failed command must leave as it was, read without the code under test.

    SQLite's ``integrity_check``, runs (id, status, error), row counts of params, metrics,
    artifacts and model versions, and every file under the artifacts folder with its sha256.
    """
    db = home / "recforge.db"
    if not db.is_file():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        runs = conn.execute("SELECT id, status, error FROM runs ORDER BY id").fetchall()
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("params", "metrics", "artifacts", "registered_models")}
    except sqlite3.DatabaseError:  # a case that corrupts the file on purpose: compare bytes
        return db.read_bytes()
    finally:
        conn.close()
    assert integrity == "ok", integrity
    files = {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((home / "artifacts").rglob("*")) if p.is_file()}
    return runs, counts, files


@dataclass
class Workspace:
    """One case's sandbox (see the module docstring)."""

    root: Path
    home: Path
    files: dict[str, Path]
    config: dict[str, Any]
    run_id: int
    monkeypatch: pytest.MonkeyPatch
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.home / "artifacts" / "runs" / str(self.run_id) / "model"

    def write(self, name: str, text: str | bytes) -> Path:
        """A file in the sandbox with the given content."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def config_file(self, config: dict[str, Any] | None = None, name: str = "config.yaml") -> str:
        """The (possibly changed) config written as YAML; returns its path."""
        return str(self.write(name, yaml.safe_dump(config if config is not None else self.config, sort_keys=False)))

    def with_split(self, split: str, content: pd.DataFrame | str | bytes, suffix: str = ".csv") -> str:
        """A config whose ``split`` file is replaced by ``content`` (a frame, text or bytes)."""
        path = self.root / f"bad-{split}{suffix}"
        if isinstance(content, pd.DataFrame):
            content.to_csv(path, index=False)
        else:
            self.write(path.name, content)
        config = {**self.config, "data": {**self.config["data"], "params": {**self.config["data"]["params"], split: str(path)}}}
        return self.config_file(config)

    def frame(self, split: str = "train") -> pd.DataFrame:
        return pd.read_csv(self.files[split])

    def changed(self, section: str, **values: Any) -> str:
        """A config with ``section`` updated by ``values``."""
        config = {**self.config, section: {**(self.config.get(section) or {}), **values}}
        return self.config_file(config)


def train_template(root: Path) -> tuple[Path, dict[str, Path], dict[str, Any], int]:
    """Train one tiny FM run into a fresh RECFORGE_HOME under ``root``; returns what it made."""
    from recforge.core.experiment import run_experiment
    from recforge.core.store import Store

    home = root / "home"
    files = write_splits(root / "data")
    config = base_config(files)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECFORGE_HOME", str(home))
        with Store.open() as store:
            result = run_experiment(config, store, progress=False)
    return home, files, config, result.run_id


def clone_home(template: Path, dest: Path) -> Path:
    """A private copy of the template home (each case may damage its own)."""
    shutil.copytree(template, dest)
    return dest


REPO = Path(__file__).resolve().parents[2]


def spawn(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python ARGS`` in its own process against ``home`` (1 thread), output captured."""
    full_env = {**os.environ, "RECFORGE_HOME": str(home), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, *args], env=full_env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def recforge(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m recforge ARGS`` in its own process against ``home``."""
    return spawn(home, "-m", "recforge", *args, env=env)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def last_json(out: str) -> Any:
    """The JSON document a ``--json`` command prints last."""
    start = out.rindex("\n{") + 1 if "\n{" in out and not out.startswith(("{", "[")) else 0
    return json.loads(out[start:])
