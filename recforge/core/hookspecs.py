"""Hook specifications: the only way components and commands enter recforge.

Built-in plugins (``recforge.plugins.*``) and third-party packages (entry-point group
``recforge``) implement these with ``@recforge.core.hookspecs.hookimpl``. The specs and the
component contracts are versioned together as the plugin API (:mod:`recforge.core.plugin_api`);
a plugin declares the range it supports with ``RECFORGE_API = ">=1.0,<2"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from recforge.core.plugin_api import API_VERSION as API_VERSION  # the version of these specs

PROJECT = "recforge"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``register(component_class)`` adds a component class to the catalogue.
Register = Callable[[type], None]


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoder classes (subclasses of ``recforge.core.components.Encoder``).

    Args:
        register: call ``register(EncoderClass)`` once per encoder.
    """


@hookspec
def register_interactions(register: Register) -> None:
    """Register interaction classes (subclasses of ``recforge.core.components.Interaction``).

    Args:
        register: call ``register(InteractionClass)`` once per interaction layer or preset.
    """


@hookspec
def register_rankers(register: Register) -> None:
    """Register ranker classes (subclasses of ``recforge.core.components.Ranker``).

    Args:
        register: call ``register(RankerClass)`` once per ranker.
    """


@hookspec
def register_models(register: Register) -> None:
    """Register whole-model classes (subclasses of ``recforge.core.components.WholeModel``):
    models that build themselves from prepared data (BPR, LightGCN, two-tower, ...).

    Args:
        register: call ``register(ModelClass)`` once per model.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset recipes (subclasses of ``recforge.core.components.DatasetRecipe``).

    Args:
        register: call ``register(RecipeClass)`` once per recipe.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``recforge`` CLI.

    Args:
        cli: the root ``click.Group``; call ``cli.add_command(...)``.
    """
