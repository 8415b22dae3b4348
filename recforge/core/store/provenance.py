"""Where a run came from: host, code version and plugin versions, recorded at creation."""

from __future__ import annotations

import functools
import socket
import subprocess
from pathlib import Path

import recforge


def host() -> str:
    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``recforge.__version__``, plus ``+g<commit>`` (and ``.dirty``) in a git checkout."""
    version = recforge.__version__
    root = Path(recforge.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return version
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}{'.dirty' if dirty else ''}" if sha else version


def plugin_versions() -> dict[str, str]:
    """``{plugin: version}`` of every plugin that loaded without error."""
    from recforge.core.registry import get_registry

    return {p.name: p.version for p in get_registry().plugin_list() if p.error is None}
