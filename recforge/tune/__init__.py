"""Honest model selection: hyperparameter search (``recforge tune``) and multi-seed runs.

Every choice is made on the validation split; the test split is reported once per run, after
its training. See docs/tuning.md.
"""

from __future__ import annotations

from typing import Any


def optuna_module() -> Any:
    """``optuna``, or a one-line error saying how to install it (it is the ``tune`` extra)."""
    try:
        import optuna
    except ImportError:
        from recforge.core.errors import ConfigError

        raise ConfigError("recforge tune needs optuna, which is not installed",
                          fix="pip install 'recforge[tune]'") from None
    return optuna
