"""Messages the console's widgets and workers post, as dataclasses.

Textual messages carry their payload as attributes; declaring them as dataclasses keeps the
payload typed and visible. Textual's ``Message.__post_init__`` does its own initialisation,
so the dataclass-generated ``__init__`` sets the fields and then runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class RunChosen(Message):
    """The user picked a run (Enter in the runs table): open its detail."""

    run_id: int


@dataclass
class RunsMarked(Message):
    """The set of runs marked for comparison changed."""

    run_ids: list[str] = field(default_factory=list)


@dataclass
class TrainProgress(Message):
    """One training event relayed from the launcher's worker thread."""

    event: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainFinished(Message):
    """The launcher's worker ended: ``status`` is finished, failed or interrupted."""

    status: str
    run_id: str | None = None
    error: str | None = None


@dataclass
class PipLine(Message):
    """One line of pip output from a plugin install or uninstall."""

    line: str


@dataclass
class PipDone(Message):
    """A pip command ended with ``returncode``."""

    returncode: int
    action: str
    package: str
