"""SVG snapshots pinning each screen's look (pytest-textual-snapshot), on a store made by the
real CLI in this session (see ``real_store.py``): a trained, analysed and registered run, a
failed run, an interrupted run and a two-trial tune study, with every artifact they wrote.

Training is seeded and single-threaded, so metrics, artifact sizes and hashes are the same in
every session (checked: three sessions at ``-n 2`` gave identical SVGs); only the timestamps
differ, and :func:`conftest.pin_timestamps` pins them on a copy of the database. The weights'
hashes hold for one torch build on one CPU family: a machine whose kernels round differently
shows other hashes (and maybe a last metric digit), which ``--snapshot-update`` then records. Paths keep their real form below the session's temporary folder, which
the console shows under a fixed name (its ``path_alias`` seam). The plugin and component
screens render a small pinned catalogue (``pinned_registry.py``) rather than the built-in one,
which grows with every component added. Regenerate with ``pytest tests/console
--snapshot-update`` after an intended change and review the SVGs in ``__snapshots__``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from recforge.console.app import RecforgeConsole
from recforge.console.formatting import PathAlias
from recforge.core.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from pinned_registry import pinned_registry
from real_store import RealStore

SIZE = (100, 30)
#: where the session's temporary folder appears in the SVGs
SHOWN_ROOT = "/tmp/session"

#: the runs table lists runs 5, 4 (the study's trials), 3 (interrupted), 2 (failed), 1 (analysed)
RUN_1 = ["down", "down", "down", "down", "enter"]
SCREENS: dict[str, list[str]] = {
    "runs": [],
    "run_detail": RUN_1,
    "run_params": [*RUN_1, "2"],
    "run_artifacts": [*RUN_1, "4"],
    "run_versions": [*RUN_1, "5"],
    "run_analysis": [*RUN_1, "6"],
    "run_failed": ["down", "down", "down", "enter"],
    "run_failed_artifacts": ["down", "down", "down", "enter", "4"],
    "run_interrupted": ["down", "down", "enter"],
    "compare": ["space", "down", "space", "down", "down", "down", "space", "c"],
    "models": ["2"],
    "datasets": ["3"],
    "plugins": ["4"],
    "components": ["5"],
    "train": ["6", "escape"],  # unfocused: no blinking cursor in the snapshot
    "studies": ["7"],
    "help": ["question_mark"],
    "confirm": ["x"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_snapshot(name: str, real_store: RealStore, pinned_real_db: Path, snap_compare: Any,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    registry = pinned_registry()
    for screen in ("datasets", "plugins", "components"):
        monkeypatch.setattr(f"recforge.console.screens.{screen}.get_registry", lambda: registry)
    monkeypatch.setenv("RECFORGE_HOME", str(real_store.home))  # as `recforge console` on that home
    store = Store.open(f"sqlite:///{pinned_real_db}")
    try:
        app = RecforgeConsole(store=store, refresh_s=None,
                              path_alias=PathAlias(str(real_store.home.parents[2]), SHOWN_ROOT))
        assert snap_compare(app, press=SCREENS[name], terminal_size=SIZE)
    finally:
        store.close()
