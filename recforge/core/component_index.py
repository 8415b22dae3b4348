"""The component catalogue cached on disk, so listing it does not import every plugin.

Loading the live :class:`~recforge.core.registry.Registry` imports every plugin module, and
with them torch: seconds for ``recforge components list``. The catalogue only changes when a
plugin's code, a plugin's package or the set of installed packages changes, so the listing
commands read a JSON copy (``RECFORGE_HOME/cache/component-index/index.json``) written by the
last full load, keyed by a :func:`fingerprint` of exactly those things, and load the live
registry again only when the fingerprint differs.

The fingerprint covers, for the built-in plugins and every ``recforge`` entry point alike:

* recforge's version and the size and mtime of every ``.py`` file of the recforge package
  (the built-in plugins and the core classes their components derive from);
* each entry point's name, target and distribution name + version, and the size and mtime of
  every ``.py`` file of the top-level package the target lives in (editable installs too);
* the mtime of every folder on ``sys.path`` (``pip install``/``uninstall``, including of a
  dependency a plugin needs, adds or removes entries there), the interpreter and
  ``RECFORGE_LOAD_PLUGINS``.

Computing it stats files; it imports nothing (``importlib.util.find_spec`` on a top-level name
does not import it). Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import recforge
from recforge.core import paths
from recforge.core.catalogue import (
    ALLOWLIST_ENV,
    ENTRY_POINT_GROUP,
    Catalogue,
    ComponentEntry,
    PluginRecord,
)

log = logging.getLogger(__name__)

#: bump when the file layout changes; an index in another format is rebuilt
FORMAT = 1


def _python_files(root: Path) -> Iterator[Path]:
    """Every ``.py`` file under ``root`` (a package folder), or ``root`` itself if it is a file."""
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder) / name


def _stat_digest(roots: list[Path]) -> str:
    """Hash of (path, size, mtime) of every Python file under ``roots``."""
    digest = hashlib.sha256()
    for root in roots:
        for path in _python_files(root):
            try:
                st = path.stat()
            except OSError:
                continue
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _code_roots(module: str) -> list[Path]:
    """The folder of the top-level package ``module`` lives in (or its single file)."""
    top = module.split(":")[0].split(".")[0].strip()
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin and spec.origin not in ("built-in", "frozen") else []


def _entry_point_identities() -> list[dict[str, Any]]:
    out = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        out.append({
            "name": ep.name,
            "value": ep.value,
            "dist": dist.metadata["Name"] if dist is not None else None,
            "version": dist.version if dist is not None else None,
            "code": _stat_digest(_code_roots(ep.value)),
        })
    return sorted(out, key=lambda d: (d["name"], d["value"], d["dist"] or ""))


def _path_mtimes() -> list[tuple[str, int]]:
    """mtimes of the import path's folders, less the running script's own (``sys.path[0]``:
    the ``bin`` folder for ``recforge``, the current folder for ``python -m``), which changes
    with how recforge is started, not with what is installed."""
    out = []
    for entry in sys.path if sys.flags.safe_path else sys.path[1:]:
        if not entry:
            continue
        try:
            out.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            out.append((entry, -1))
    return out


def fingerprint() -> str:
    """Identity of everything the catalogue is loaded from (see the module docstring)."""
    identity = {
        "format": FORMAT,
        "python": [sys.prefix, sys.version],
        "recforge": recforge.__version__,
        "builtin_code": _stat_digest([Path(recforge.__file__).parent]),
        "entry_points": _entry_point_identities(),
        "sys_path": _path_mtimes(),
        "allowlist": os.environ.get(ALLOWLIST_ENV),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


class ComponentIndex(Catalogue[ComponentEntry]):
    """A catalogue read from (or written to) the index file: entries only, no classes."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    @classmethod
    def of(cls, catalogue: Catalogue[Any], key: str) -> ComponentIndex:
        """A copy of a live catalogue's plugins and components (classes left out)."""
        index = cls(key)
        for record in catalogue.plugin_list():
            index.plugins[record.name] = PluginRecord.from_dict(record.to_dict())
        for info in catalogue.list():
            index.components[info.name] = ComponentEntry.from_dict(info.to_dict(full=True))
        return index

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "key": self.key,
            "plugins": [p.to_dict() for p in self.plugin_list()],
            "components": [c.to_dict(full=True) for c in self.list()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentIndex:
        index = cls(data["key"])
        for raw in data["plugins"]:
            record = PluginRecord.from_dict(raw)
            index.plugins[record.name] = record
        for raw in data["components"]:
            entry = ComponentEntry.from_dict(raw)
            index.components[entry.name] = entry
        return index


def index_path(home: Path | None = None) -> Path:
    """Where the index of ``home`` (default: ``RECFORGE_HOME``) is stored."""
    return (home if home is not None else paths.home()) / "cache" / "component-index" / "index.json"


def read_index(key: str) -> ComponentIndex | None:
    """The stored index when it was written for ``key``; None when missing, stale or unreadable."""
    try:
        data = json.loads(index_path().read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("key") != key:
            return None
        return ComponentIndex.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.debug("component index not used: %s", err)
        return None


def write_index(index: ComponentIndex) -> None:
    """Store ``index`` atomically; a home that cannot be written only costs the next start."""
    target = index_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".index-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(index.to_json(), handle)
        os.replace(tmp, target)
    except OSError as err:
        log.debug("component index not written to %s: %s", target, err)


def cached_catalogue(load_live: Callable[[], Catalogue[Any]], reload: bool = False) -> Catalogue[ComponentEntry]:
    """The catalogue from the index when it is current, else from ``load_live()`` (then stored).

    ``load_live`` loads the registry the way the caller's command would (the CLI also runs
    the plugins' command hooks, whose errors belong in the plugin rows); ``reload`` skips
    the stored index.
    """
    key = fingerprint()
    index = None if reload else read_index(key)
    if index is not None:
        return index
    index = ComponentIndex.of(load_live(), key)
    write_index(index)
    return index
