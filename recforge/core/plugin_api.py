"""The versioned plugin API: what a plugin declares, and the check made before it loads.

recforge's plugin API is the hook specifications (:mod:`recforge.core.hookspecs`) plus the
component contracts (:mod:`recforge.core.components`: Params declarations, the Encoder,
Interaction and Ranker base classes and their constructor signatures). Its version is
``MAJOR.MINOR``: a minor bump only adds (new hooks, new optional attributes), a major bump
changes or removes something a plugin may rely on.

A plugin states the range it supports as a PEP 440 specifier in its hook module::

    RECFORGE_API = ">=1.0,<2"

The registry calls :func:`check_plugin_api` after importing a plugin and *before* registering
any of its hooks, so an incompatible plugin is recorded with both versions (and shown by
``recforge plugins list``) but contributes nothing: no components, no commands.
A plugin that declares nothing is assumed to target API 1 (every plugin written before the
API was versioned).
"""

from __future__ import annotations

from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from recforge.core.errors import PluginError

#: the plugin API this recforge provides
API_VERSION = "1.0"
#: the module attribute holding a plugin's supported range
DECLARATION = "RECFORGE_API"
#: what an undeclared plugin is assumed to support
UNDECLARED = ">=1.0,<2"
#: the version of each contract the API is made of (all move together with API_VERSION)
CONTRACTS: dict[str, str] = {
    "hooks": API_VERSION,
    "encoder": API_VERSION,
    "interaction": API_VERSION,
    "ranker": API_VERSION,
    "dataset": API_VERSION,
}


def declared_range(plugin: Any) -> str:
    """The API range a plugin module or object declares (``""`` when it declares none)."""
    value = getattr(plugin, DECLARATION, "")
    return value if isinstance(value, str) else repr(value)


def check_plugin_api(name: str, plugin: Any) -> str:
    """Return the plugin's declared range; raise :class:`PluginError` when it excludes this API.

    Raises:
        PluginError: the declaration is malformed, or does not include :data:`API_VERSION`.
    """
    declared = declared_range(plugin)
    try:
        spec = SpecifierSet(declared or UNDECLARED)
    except InvalidSpecifier:
        raise PluginError(
            f"plugin '{name}' declares {DECLARATION} = {declared!r}, which is not a version range",
            fix=f"write a PEP 440 range such as RECFORGE_API = \">=1.0,<2\" (this recforge provides API {API_VERSION})",
        ) from None
    if Version(API_VERSION) not in spec:
        raise PluginError(
            f"plugin '{name}' supports recforge plugin API {declared}, this recforge provides API "
            f"{API_VERSION}; it was skipped",
            fix="install a release of the plugin built for this API, or a recforge whose API it supports",
        )
    return declared
