"""Which way is better for a metric, from its name alone (torch-free: the CLI and console use it).

``valid.logloss`` improves downwards, ``valid.auc`` upwards; the trainer's ``monitor_mode:
auto``, ``runs compare`` and the console's colours all follow this one rule.
"""

from __future__ import annotations

LOWER_IS_BETTER = ("loss", "logloss", "rmse", "mae", "mse")


def higher_is_better(key: str) -> bool:
    """``True`` unless the metric's base name (``valid.ndcg@10`` -> ``ndcg``) is an error or loss."""
    return key.rsplit(".", 1)[-1].split("@")[0] not in LOWER_IS_BETTER
