"""Fixtures of the reliability tests: one trained template home per session, cloned per case."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reliability_kit import Workspace, clone_home, train_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A RECFORGE_HOME holding one finished FM run with its saved model (trained once)."""
    return train_template(tmp_path_factory.mktemp("reliability-template"))


@pytest.fixture
def workspace(template: tuple, recforge_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A private copy of the template home as this test's RECFORGE_HOME."""
    from recforge.core.registry import reset_registry

    home, files, config, run_id = template
    if recforge_env.exists():
        import shutil

        shutil.rmtree(recforge_env)
    clone_home(home, recforge_env)
    ws = Workspace(tmp_path / "ws", recforge_env, files, config, run_id, monkeypatch)
    ws.root.mkdir()
    yield ws
    if ws.extra.get("reset_registry"):
        monkeypatch.undo()
        reset_registry()
