"""What the catalogue knows about plugins and components, without the component classes.

The live :class:`~recforge.core.registry.Registry` (which imports every plugin, and with them
torch) and the cached :mod:`~recforge.core.component_index` (which imports nothing) both answer
``components list|show`` and ``plugins list`` through :class:`Catalogue`: one lookup, one
filter, one unknown-name error, whichever of the two is behind it. Nothing here imports torch.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from recforge.core.errors import unknown_name

KINDS: tuple[str, ...] = ("encoder", "interaction", "ranker", "model", "dataset")
ALLOWLIST_ENV = "RECFORGE_LOAD_PLUGINS"
#: the entry-point group third-party plugins register under
ENTRY_POINT_GROUP = "recforge"


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a component: what the catalogue shows and validation uses."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
            "choices": list(self.choices) if self.choices else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParamSpec:
        choices = data.get("choices")
        return cls(data["name"], data["type"], data["default"], data["help"], tuple(choices) if choices else None)


@dataclass
class ComponentEntry:
    """Catalogue entry for one component: identity, parameters and documentation."""

    name: str
    kind: str
    plugin: str
    plugin_version: str
    version: str
    params: list[ParamSpec]
    doc: str

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "plugin": self.plugin,
            "plugin_version": self.plugin_version,
            "version": self.version,
            "summary": self.summary,
        }
        if full:
            data["params"] = [p.to_dict() for p in self.params]
            data["doc"] = self.doc
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComponentEntry:
        """The inverse of ``to_dict(full=True)``."""
        return cls(
            name=data["name"], kind=data["kind"], plugin=data["plugin"], plugin_version=data["plugin_version"],
            version=data["version"], params=[ParamSpec.from_dict(p) for p in data["params"]], doc=data["doc"],
        )


@dataclass
class PluginRecord:
    """A plugin that was found: where it came from, what it registered, or why it failed."""

    name: str
    version: str
    origin: str  # "builtin", "entrypoint" or "manual"
    components: list[str] = field(default_factory=list)
    error: str | None = None
    api: str = ""  # the plugin API range it declares (RECFORGE_API), "" when undeclared

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "origin": self.origin,
            "components": list(self.components),
            "error": self.error,
            "api": self.api,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PluginRecord:
        return cls(data["name"], data["version"], data["origin"], list(data["components"]), data["error"],
                   data["api"])


Entry = TypeVar("Entry", bound=ComponentEntry)


class Catalogue(Generic[Entry]):
    """Plugins and components by name, with lookup, wildcard listing and helpful misses."""

    def __init__(self) -> None:
        self.plugins: dict[str, PluginRecord] = {}
        self.components: dict[str, Entry] = {}

    def get(self, name: str, kind: str | None = None) -> Entry:
        """Look a component up by name; unknown names fail with a suggestion."""
        info = self.components.get(name)
        if info is None or (kind is not None and info.kind != kind):
            choices = [c.name for c in self.components.values() if kind is None or c.kind == kind]
            broken = [p for p in self.plugins.values() if p.error]
            hint = "".join(f"; plugin '{p.name}' failed to load ({p.error})" for p in broken[:2])
            raise unknown_name(
                kind or "component",
                name,
                choices,
                fix=f"run `recforge components list{' --kind ' + kind if kind else ''}` to see them{hint}"
                + ("; fix or uninstall it (see `recforge plugins list`)" if broken else ""),
            )
        return info

    def has(self, name: str, kind: str | None = None) -> bool:
        info = self.components.get(name)
        return info is not None and (kind is None or info.kind == kind)

    def list(self, kind: str | None = None, pattern: str | None = None) -> list[Entry]:
        """Components of ``kind`` (all kinds when None) whose name matches the wildcard ``pattern``."""
        if kind is not None and kind not in KINDS:
            raise unknown_name("component kind", kind, KINDS, fix=f"use one of {', '.join(KINDS)}")
        out = [
            c
            for c in self.components.values()
            if (kind is None or c.kind == kind) and (pattern is None or fnmatch.fnmatch(c.name, pattern))
        ]
        return sorted(out, key=lambda c: (KINDS.index(c.kind), c.name))

    def plugin_list(self) -> list[PluginRecord]:
        return sorted(self.plugins.values(), key=lambda p: (p.origin != "builtin", p.name))
