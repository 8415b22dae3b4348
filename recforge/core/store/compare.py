"""Side-by-side comparison of runs: metric deltas and config differences.

A service function shared by ``recforge runs compare`` and the console, so both show the same
numbers. Deltas are relative to the first run given (the baseline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recforge.core.errors import StoreError
from recforge.core.store.repository import Store

MISSING = "<missing>"


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


@dataclass
class MetricRow:
    """One metric across runs: latest values and their difference to the baseline."""

    key: str
    values: dict[int, float | None]
    deltas: dict[int, float | None]


@dataclass
class ConfigRow:
    """One config key whose value differs between the runs (``MISSING`` where absent)."""

    key: str
    values: dict[int, Any]


@dataclass
class RunComparison:
    run_ids: list[int]
    runs: list[dict[str, Any]]
    metrics: list[MetricRow] = field(default_factory=list)
    config: list[ConfigRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.run_ids[0],
            "runs": self.runs,
            "metrics": [
                {"key": m.key, "values": {str(k): v for k, v in m.values.items()},
                 "deltas": {str(k): v for k, v in m.deltas.items()}}
                for m in self.metrics
            ],
            "config": [{"key": c.key, "values": {str(k): v for k, v in c.values.items()}} for c in self.config],
        }


def compare_runs(store: Store, run_ids: Sequence[int]) -> RunComparison:
    """Compare two or more runs; the first is the baseline for deltas."""
    ids = [int(r) for r in run_ids]
    if len(ids) < 2:
        raise StoreError("compare needs at least two runs", fix="pass two or more run ids")
    if len(set(ids)) != len(ids):
        raise StoreError("the same run is given twice", fix="pass distinct run ids")
    runs = [store.get_run(r) for r in ids]
    latest = {r.id: store.reported_metrics(r.id) for r in runs}
    base = ids[0]
    metrics = []
    for key in sorted(set().union(*latest.values())):
        values = {r: latest[r].get(key) for r in ids}
        base_value = values[base]
        deltas = {
            r: (None if v is None or base_value is None else v - base_value) for r, v in values.items()
        }
        metrics.append(MetricRow(key, values, deltas))
    flat = {r.id: flatten(r.config) for r in runs}
    config = []
    for key in sorted(set().union(*flat.values())):
        values = {r: flat[r].get(key, MISSING) for r in ids}
        if any(v != values[base] for v in values.values()):
            config.append(ConfigRow(key, values))
    summary = [
        {"id": r.id, "name": r.name, "experiment": r.experiment_name, "status": r.status, "model": r.model_summary}
        for r in runs
    ]
    return RunComparison(ids, summary, metrics, config)
