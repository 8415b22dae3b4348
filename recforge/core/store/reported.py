"""Which logged value of each metric a run reports: the final evaluation's, not the last epoch's.

A finished run logs its valid metrics every epoch and, after training, the final evaluation
(the restored best epoch's valid metrics and the test metrics) at the best epoch's step. The
highest step of ``valid.auc`` is then the *last* epoch, which early stopping rejected; tables
that showed it (the runs list, the console, ``runs compare``) ranked runs by a value their
model does not have. A run that reached its final evaluation reports every metric at that step
(the step of its test metrics); runs without one (running, failed, interrupted, or evaluated
on valid only) report each metric's latest value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: metrics of the split the final evaluation alone reads; their step marks that evaluation
FINAL_SPLIT_PREFIX = "test."


def reported_values(series: Mapping[str, Sequence[tuple[int, float]]]) -> dict[str, float]:
    """``{key: value}`` from ``{key: [(step, value), ...]}`` sorted by step (see the module doc)."""
    latest = {key: points[-1][1] for key, points in series.items() if points}
    final_step = max((points[-1][0] for key, points in series.items()
                      if key.startswith(FINAL_SPLIT_PREFIX) and points), default=None)
    if final_step is None:
        return latest
    for key, points in series.items():
        at_final = [value for step, value in points if step == final_step]
        if at_final and not key.startswith("train."):  # the training loss stays the last epoch's
            latest[key] = at_final[-1]
    return latest
