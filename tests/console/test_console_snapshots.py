"""SVG snapshots pinning each screen's look (pytest-textual-snapshot).

The fixture store pins every timestamp and ids are autoincrement, so the rendering is the
same on every run; regenerate with ``pytest tests/console --snapshot-update`` after an
intended change and review the SVGs in ``__snapshots__``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from recforge.console.app import RecforgeConsole

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pinned_registry import pinned_registry  # noqa: E402

SIZE = (100, 30)

SCREENS: dict[str, list[str]] = {
    "runs": [],
    "run_detail": ["down", "down", "down", "enter"],
    "run_analysis": ["down", "down", "down", "enter", "right", "right", "right", "right", "right"],
    "compare": ["down", "down", "space", "down", "space", "c"],
    "models": ["2"],
    "datasets": ["3"],
    "plugins": ["4"],
    "components": ["5"],
    "train": ["6", "escape"],  # unfocused: no blinking cursor in the snapshot
    "help": ["question_mark"],
    "confirm": ["x"],
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_snapshot(
    name: str, filled: SimpleNamespace, snap_compare: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = pinned_registry()
    for screen in ("datasets", "plugins", "components"):
        monkeypatch.setattr(f"recforge.console.screens.{screen}.get_registry", lambda: registry)
    app = RecforgeConsole(store=filled.store, refresh_s=None)
    assert snap_compare(app, press=SCREENS[name], terminal_size=SIZE)
