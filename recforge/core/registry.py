"""Plugin manager and component catalogue.

Plugins are loaded once per process: the built-in modules listed in
:data:`recforge.plugins.BUILTIN_PLUGINS`, then every entry point in the group ``recforge``.
``RECFORGE_LOAD_PLUGINS`` (comma list of entry-point or distribution names; empty = none)
limits which third-party plugins load; built-ins always load, because the product is built
from them.

Each plugin's hook implementations are called one plugin at a time, so every component knows
its origin plugin and a plugin that raises (on import or inside a hook) is recorded with its
error while everything else keeps working.

The lookup, listing and unknown-name error live in :class:`~recforge.core.catalogue.Catalogue`,
shared with the on-disk copy of the catalogue (:mod:`recforge.core.component_index`) that the
listing commands read without importing any plugin.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

import recforge
from recforge.core import hookspecs
from recforge.core.catalogue import (
    ALLOWLIST_ENV,
    ENTRY_POINT_GROUP,
    Catalogue,
    ComponentEntry,
    PluginRecord,
)
from recforge.core.components import Component, param_specs
from recforge.core.errors import PluginError
from recforge.core.plugin_api import check_plugin_api
from recforge.core.plugin_guard import describe, guarded

log = logging.getLogger(__name__)

HOOK_FOR_KIND = {
    "encoder": "register_encoders",
    "interaction": "register_interactions",
    "ranker": "register_rankers",
    "model": "register_models",
    "dataset": "register_datasets",
}


@dataclass
class ComponentInfo(ComponentEntry):
    """Catalogue entry for one loaded component: the entry plus the class that builds it."""

    cls: type[Component]


class Registry(Catalogue[ComponentInfo]):
    """The plugin manager plus the catalogue of every registered component."""

    def __init__(self) -> None:
        super().__init__()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # ------------------------------------------------------------------ loading
    def load_builtins(self) -> None:
        from recforge.plugins import BUILTIN_PLUGINS

        for module_name in BUILTIN_PLUGINS:
            self.add_plugin(
                module_name,
                lambda m=module_name: importlib.import_module(m),
                version=recforge.__version__,
                origin="builtin",
            )

    def load_entrypoints(self) -> None:
        allow = os.environ.get(ALLOWLIST_ENV)
        allowed = None if allow is None else {a.strip() for a in allow.split(",") if a.strip()}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else ep.name
            if allowed is not None and ep.name not in allowed and dist_name not in allowed:
                continue
            version = dist.version if dist is not None else "unknown"
            if ep.name in self.plugins:  # never shadow a built-in (or an earlier plugin's) row
                self._clash(ep.name, dist_name, version)
                continue
            self.add_plugin(ep.name, ep.load, version=version, origin="entrypoint")

    def _clash(self, name: str, dist_name: str, version: str) -> None:
        """Record an entry point whose name is already taken, under a row of its own."""
        taken = self.plugins[name]
        key = f"{name} (from {dist_name})"
        self.plugins[key] = PluginRecord(
            name=key, version=version, origin="entrypoint",
            error=str(PluginError(f"entry point '{name}' of package '{dist_name}' has the name of the "
                                  f"{taken.origin} plugin '{name}'; it was not loaded",
                                  fix=f"rename the entry point in {dist_name}'s [project.entry-points.recforge]")))

    def add_plugin(
        self, name: str, load: Callable[[], Any], *, version: str, origin: str
    ) -> PluginRecord:
        """Import (via ``load``) and register one plugin; failures are recorded, not raised."""
        record = PluginRecord(name=name, version=version, origin=origin)
        self.plugins[name] = record
        def import_and_register() -> Any:
            module = load()
            record.api = check_plugin_api(name, module)  # before registering: never half-loaded
            self.pm.register(module, name=name)
            return module

        plugin, err = guarded(import_and_register)
        if err is not None:
            record.error = describe(err)
            log.debug("plugin %s failed to load:\n%s", name, "".join(traceback.format_exception(err)))
            return record
        self._collect(name, plugin)
        return record

    def _collect(self, name: str, plugin: Any) -> None:
        record = self.plugins[name]
        staged: list[ComponentInfo] = []

        def call_hooks() -> None:
            for kind, hook_name in HOOK_FOR_KIND.items():
                impl = getattr(plugin, hook_name, None)
                if impl is None:
                    continue

                def register(cls: type, _kind: str = kind) -> None:
                    staged.append(self._info(cls, _kind, record))

                impl(register=register)

        _, err = guarded(call_hooks)
        if err is not None:
            record.error = describe(err)
            log.debug("plugin %s failed in a hook:\n%s", name, "".join(traceback.format_exception(err)))
            self.pm.unregister(plugin)
            return
        # all-or-nothing: a plugin with a duplicate name registers nothing
        for info in staged:
            other = self.components.get(info.name)
            if other is not None or sum(i.name == info.name for i in staged) > 1:
                owner = other.plugin if other is not None else name
                record.error = str(
                    PluginError(
                        f"component name '{info.name}' is registered by both plugin "
                        f"'{owner}' and plugin '{name}'",
                        fix=f"rename the component in one of them, or uninstall one "
                        f"(or leave it out of {ALLOWLIST_ENV})",
                    )
                )
                self.pm.unregister(plugin)
                return
        for info in staged:
            self.components[info.name] = info
            record.components.append(info.name)

    def _info(self, cls: type, kind: str, record: PluginRecord) -> ComponentInfo:
        if not isinstance(cls, type) or not issubclass(cls, Component):
            raise PluginError(
                f"plugin '{record.name}' registered {cls!r}, which is not a recforge component",
                fix="subclass Encoder, Interaction, Ranker, WholeModel or DatasetRecipe",
            )
        if not cls.name:
            raise PluginError(
                f"plugin '{record.name}' registered {cls.__name__} without a name",
                fix="set the class attribute `name`",
            )
        if cls.kind != kind:
            raise PluginError(
                f"plugin '{record.name}' registered {cls.kind or 'a non-'} component '{cls.name}' "
                f"through the {kind} hook",
                fix=f"register it through {HOOK_FOR_KIND.get(cls.kind, 'the matching hook')}",
            )
        return ComponentInfo(
            name=cls.name,
            kind=kind,
            cls=cls,
            plugin=record.name,
            plugin_version=record.version,
            version=cls.version,
            params=param_specs(cls.Params),
            doc=(cls.__doc__ or "").strip(),
        )

    def unregister(self, name: str) -> None:
        """Remove a plugin and its components (tests register and unregister plugins)."""
        record = self.plugins.pop(name, None)
        if record is None:
            return
        for comp in record.components:
            self.components.pop(comp, None)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)

    def register_module(self, module: ModuleType, name: str | None = None, version: str = "0") -> PluginRecord:
        """Register an already-imported module or object as a plugin."""
        return self.add_plugin(name or module.__name__, lambda: module, version=version, origin="manual")

    # ------------------------------------------------------------------ commands
    def add_commands(self, cli: Any) -> None:
        """Let every loaded plugin add CLI commands; a failing plugin is recorded, not fatal.

        A plugin command named like one that already exists (``runs``, or another plugin's)
        is taken back out and reported in ``recforge plugins list``: a plugin may add
        commands, never replace them. Built-in commands a lazy group declares but has not
        imported yet (its ``lazy`` table) count as existing.
        """
        declared = set(getattr(cli, "lazy", None) or ())
        for impl in self.pm.hook.register_commands.get_hookimpls():
            before = dict(cli.commands)
            _, err = guarded(lambda f=impl.function: f(cli=cli))
            record = self.plugins.get(impl.plugin_name)
            replaced = sorted(n for n, cmd in before.items() if cli.commands.get(n) is not cmd)
            for cmd_name in replaced:
                cli.commands[cmd_name] = before[cmd_name]
            shadowed = sorted(n for n in cli.commands if n in declared and n not in before)
            for cmd_name in shadowed:  # the lazy built-in resolves again on first use
                del cli.commands[cmd_name]
            replaced = sorted({*replaced, *shadowed})
            if record is None:
                continue
            if err is not None:
                record.error = describe(err)
            elif replaced:
                record.error = str(PluginError(
                    f"plugin '{impl.plugin_name}' tried to replace the command(s) {', '.join(replaced)}; "
                    "the existing ones were kept",
                    fix="give the plugin's commands names of their own"))

    def versions(self, names: Iterable[str]) -> dict[str, str]:
        """``{component: "plugin==version/component-version"}`` for the store and saved models."""
        out = {}
        for n in names:
            info = self.components.get(n)
            if info is not None:
                out[n] = f"{info.plugin}=={info.plugin_version}/{info.version}"
        return out


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = Registry()
        reg.load_builtins()
        reg.load_entrypoints()
        _REGISTRY = reg
    return _REGISTRY


def loaded_registry() -> Registry | None:
    """The process-wide registry if something in this process loaded it already, else None."""
    return _REGISTRY


def reset_registry() -> None:
    """Forget the loaded registry (next :func:`get_registry` reloads); for tests and installs."""
    global _REGISTRY
    _REGISTRY = None
