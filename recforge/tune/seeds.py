"""Multi-seed runs: the same config on N seeds, each a run, reported as mean +- std.

AUC on a dataset the size of MovieLens-100k moves by 0.001-0.005 between seeds, more than
many differences between settings; a figure quoted from one seed is a draw, the mean over
seeds is the figure. The runs share a ``seed_group`` param so they can be found together.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recforge.core.experiment import RunResult


@dataclass
class SeedReport:
    """The runs of one seed group and the mean and sample standard deviation of each metric."""

    group: str
    seeds: list[int]
    runs: list[RunResult]
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "seeds": self.seeds, "run_ids": [r.run_id for r in self.runs],
                "mean": self.mean, "std": self.std, "runs": [r.to_dict() for r in self.runs]}


def seed_list(first: int, count: int) -> list[int]:
    """``count`` consecutive seeds from the config's own one (so seed 1 of N is the plain run)."""
    return [first + i for i in range(count)]


def summarise(runs: list[RunResult]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample std (0 for one run) of every ``split.metric`` all runs reported."""
    values: dict[str, list[float]] = {}
    for run in runs:
        for split, metrics in (("valid", run.valid), ("test", run.test)):
            for name, value in metrics.items():
                values.setdefault(f"{split}.{name}", []).append(float(value))
    keep = {k: v for k, v in values.items() if len(v) == len(runs)}
    mean = {k: statistics.fmean(v) for k, v in keep.items()}
    std = {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in keep.items()}
    return mean, std


def run_seeds(seeds: list[int], train_one: Callable[[int, str], RunResult], store: Any, name: str) -> SeedReport:
    """Train once per seed through ``train_one(seed, run_name)`` and tag the runs as one group."""
    group = f"{name}@{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S')}"
    runs = []
    for seed in seeds:
        result = train_one(seed, f"{name} seed {seed}")
        if store is not None:
            store.log_params(result.run_id, {"seed_group": group})
        runs.append(result)
    mean, std = summarise(runs)
    return SeedReport(group, seeds, runs, mean, std)
