"""Test-wide setup: an isolated RECFORGE_HOME per test, the shared data folders, one thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECFORGE_SHARED_DIR", REPO.parent / "shared")).resolve()
DATASETS = Path(os.environ.get("RECFORGE_DATA_DIR", SHARED / "datasets")).resolve()
TASKS = Path(os.environ.get("RECFORGE_TASKS_DIR", SHARED / "tasks")).resolve()

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def recforge_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own store, artifacts and caches; data comes from ../shared."""
    home = tmp_path / "recforge-home"
    monkeypatch.setenv("RECFORGE_HOME", str(home))
    monkeypatch.setenv("RECFORGE_DATA_DIR", str(DATASETS))
    monkeypatch.setenv("RECFORGE_TASKS_DIR", str(TASKS))
    monkeypatch.delenv("RECFORGE_DB", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS}; set RECFORGE_DATA_DIR")
    return DATASETS


@pytest.fixture(scope="session")
def tasks_dir() -> Path:
    if not TASKS.is_dir():
        pytest.skip(f"shared tasks not found at {TASKS}; set RECFORGE_TASKS_DIR")
    return TASKS


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(1)
