"""Which process is training a run, and whether it is still alive.

``start_run`` writes ``process.json`` (host, pid, the process's start time) into the run's
folder. A run left ``running`` by a process that was killed (``kill -9``, out of memory) can
then be told apart from one that is still training: on the same host, a pid that no longer
exists, or exists with another start time (the pid was reused), is dead for certain, so
``recforge resume`` may continue at once instead of waiting for the heartbeat to go stale.
On another host the heartbeat is the only evidence.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from recforge.core.store import provenance

MARKER = "process.json"


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def this_process() -> dict[str, Any]:
    """The marker of the current process."""
    pid = os.getpid()
    return {"host": provenance.host(), "pid": pid, "start": _start_ticks(pid)}


def write_marker(folder: Path) -> None:
    """Record the current process as the one training the run of ``folder`` (best effort)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{MARKER}.tmp{os.getpid()}"
        tmp.write_text(json.dumps(this_process()))
        os.replace(tmp, folder / MARKER)
    except OSError:  # a read-only or full disk must not stop training: the heartbeat still works
        pass


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def process_alive(marker: dict[str, Any] | None) -> bool | None:
    """True/False for a process on this host; None when unknown (no marker, another host)."""
    if not marker or marker.get("host") != provenance.host() or not isinstance(marker.get("pid"), int):
        return None
    pid = marker["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    start = _start_ticks(pid)
    if start is not None and marker.get("start") is not None and start != marker["start"]:
        return False  # the pid now belongs to another process
    if start is not None and _is_zombie(pid):
        return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False
