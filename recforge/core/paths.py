"""Where recforge keeps things on disk.

* ``RECFORGE_HOME``: root of the store database, artifacts, text-vector cache and prepared
  data (default: the platform's user data folder, e.g. ``~/.local/share/recforge``).
* ``RECFORGE_DATA_DIR``: raw dataset files, one folder per dataset (default ``HOME/datasets``).
* ``RECFORGE_TASKS_DIR``: canonical benchmark splits (default: ``tasks`` beside the data dir).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def home() -> Path:
    root = os.environ.get("RECFORGE_HOME")
    path = Path(root).expanduser() if root else Path(platformdirs.user_data_dir("recforge"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    root = os.environ.get("RECFORGE_DATA_DIR")
    return Path(root).expanduser().resolve() if root else home() / "datasets"


def tasks_dir() -> Path:
    root = os.environ.get("RECFORGE_TASKS_DIR")
    return Path(root).expanduser().resolve() if root else data_dir().parent / "tasks"


def artifacts_dir() -> Path:
    path = home() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(name: str) -> Path:
    """A named cache folder under HOME (e.g. ``textcache``, ``prepared``)."""
    path = home() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def expand(text: str) -> str:
    """Expand ``${RECFORGE_DATA_DIR}``, ``${RECFORGE_TASKS_DIR}``, other env vars and ``~``."""
    env = dict(os.environ)
    env.setdefault("RECFORGE_DATA_DIR", str(data_dir()))
    env.setdefault("RECFORGE_TASKS_DIR", str(tasks_dir()))
    env.setdefault("RECFORGE_HOME", str(home()))
    for key in ("RECFORGE_DATA_DIR", "RECFORGE_TASKS_DIR", "RECFORGE_HOME"):
        text = text.replace("${" + key + "}", env[key]).replace("$" + key, env[key])
    return os.path.expanduser(os.path.expandvars(text))
