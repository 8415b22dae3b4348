"""The catalogue the listing commands show: the cached component index, reloaded when stale.

``components list|show`` and ``plugins list`` go through :func:`catalogue`, so a second call
imports no plugin (and no torch); see :mod:`recforge.core.component_index` for when the index
is rebuilt. A rebuild loads the registry exactly as ``plugins list`` always did, plugin
commands included, so a plugin whose command hook fails or clashes shows that error too.
"""

from __future__ import annotations

import sys

import click

from recforge.core.catalogue import Catalogue, ComponentEntry
from recforge.core.component_index import cached_catalogue


def _load_live() -> Catalogue[ComponentEntry]:
    from recforge.cli import RecforgeGroup
    from recforge.core.registry import get_registry

    # commands resolve lazily (other commands never import plugins): run the plugins'
    # register_commands hooks now, so a failing or clashing one shows its error
    root = click.get_current_context().find_root().command
    if isinstance(root, RecforgeGroup):
        root._load_plugins()
    return get_registry()


def _loaded_in_this_process() -> bool:
    """Whether this process loaded the registry already (checked without importing it).

    Then it is the truth for this process, plugins registered at run time included, and
    costs nothing more: the listing shows it rather than the index.
    """
    registry = sys.modules.get("recforge.core.registry")
    return registry is not None and registry.loaded_registry() is not None


def catalogue(reload: bool = False) -> Catalogue[ComponentEntry]:
    """Plugins and components from the index (``reload``: load every plugin now and re-store it)."""
    if not reload and _loaded_in_this_process():
        return _load_live()
    return cached_catalogue(_load_live, reload=reload)


RELOAD_HELP = "Load every plugin now instead of reading the cached catalogue (which is rebuilt by itself when a plugin changes)."
