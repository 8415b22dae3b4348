"""A small, fixed plugin catalogue for the console snapshots.

The real catalogue grows whenever a component is added; the snapshots pin the screens' look,
so they render this stand-in (one component of each kind plus a plugin that failed to load).
"""

from __future__ import annotations

import types
from dataclasses import dataclass

from recforge.core.components import DatasetRecipe, Encoder, Interaction, Ranker, param
from recforge.core.hookspecs import hookimpl
from recforge.core.registry import Registry


class PinnedEncoder(Encoder):
    """An id embedding.

    Args:
        id_dropout: probability of replacing an id by the unknown index while training.

    Example:
        model: {encoders: {user_id: {name: pinned-categorical}}}
    """

    name = "pinned-categorical"
    field_kinds = ("categorical",)

    @dataclass
    class Params:
        id_dropout: float = param(0.0, "probability of dropping an id while training")


class PinnedInteraction(Interaction):
    """Factorization machine.

    Args:
        reduce_sum: sum over the embedding dimension.

    Example:
        model: {interaction: pinned-fm}
    """

    name = "pinned-fm"

    @dataclass
    class Params:
        reduce_sum: bool = param(True, "sum over the embedding dimension")


class PinnedRanker(Ranker):
    """Click-through-rate head.

    Args:
        pos_weight: weight of positive examples.

    Example:
        model: {ranker: pinned-ctr}
    """

    name = "pinned-ctr"

    @dataclass
    class Params:
        pos_weight: float = param(1.0, "weight of positive examples in the loss")


class PinnedRecipe(DatasetRecipe):
    """MovieLens-100k ratings with users, items, genres and titles.

    Args:
        threshold: ratings at or above it are positives.

    Example:
        data: {recipe: pinned-movielens}
    """

    name = "pinned-movielens"

    @dataclass
    class Params:
        threshold: int = param(4, "ratings at or above it are positives")


def _module() -> types.ModuleType:
    module = types.ModuleType("pinned_plugin")

    @hookimpl
    def register_encoders(register):  # type: ignore[no-untyped-def]
        register(PinnedEncoder)

    @hookimpl
    def register_interactions(register):  # type: ignore[no-untyped-def]
        register(PinnedInteraction)

    @hookimpl
    def register_rankers(register):  # type: ignore[no-untyped-def]
        register(PinnedRanker)

    @hookimpl
    def register_datasets(register):  # type: ignore[no-untyped-def]
        register(PinnedRecipe)

    for fn in (register_encoders, register_interactions, register_rankers, register_datasets):
        setattr(module, fn.__name__, fn)
    return module


def pinned_registry() -> Registry:
    """A registry holding the pinned plugin and one that fails at import."""
    registry = Registry()
    registry.add_plugin("recforge.pinned", _module, version="0.1.0", origin="builtin")

    def broken() -> types.ModuleType:
        raise ImportError("No module named 'torchrec'")

    registry.add_plugin("recforge-broken-example", broken, version="0.0.1", origin="entrypoint")
    return registry
