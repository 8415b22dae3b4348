"""Read the run's ``analysis.json`` (written by ``recforge analyze``) into what widgets draw.

The analysis document is produced by another part of recforge; this module accepts the
shapes it documents and close variants so the console keeps working as that format grows:

* field importance under ``field_importance`` (or ``importance``): a list of
  ``{field, importance|value|mean, low?, high?, ci?: [low, high]}`` records, or a mapping
  ``{field: value}`` / ``{field: {mean|value|importance, low?, high?}}``;
* pair strength under ``pair_strength`` (or ``pairwise``/``interactions``/``pairs``): a
  ``{fields: [...], matrix: [[...]]}`` block, a list of ``{fields|pair: [a, b],
  strength|value}`` records, or a mapping ``{"a|b": value}`` (also ``a,b`` / ``a x b``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from recforge.console.widgets.importance_bars import Importance

IMPORTANCE_KEYS = ("field_importance", "importance", "permutation_importance")
PAIR_KEYS = ("pair_strength", "pairwise", "pair_interaction", "interactions", "pairs")
VALUE_KEYS = ("importance", "strength", "value", "mean", "drop", "score")


@dataclass(frozen=True)
class PairMatrix:
    """A symmetric matrix of pair strengths over ``labels``."""

    labels: list[str]
    matrix: list[list[float | None]]


def _number(record: dict[str, Any]) -> float | None:
    for key in VALUE_KEYS:
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _section(doc: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in doc:
            return doc[key]
    return None


def field_importance(doc: dict[str, Any]) -> list[Importance]:
    """Per-field importances of an analysis document ([] when it has none)."""
    raw = _section(doc, IMPORTANCE_KEYS)
    records: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        records = list(raw.items())
    elif isinstance(raw, list):
        records = [(str(r.get("field", r.get("name", "?"))), r) for r in raw if isinstance(r, dict)]
    out = []
    for name, entry in records:
        low = high = None
        if isinstance(entry, (int, float)) and not isinstance(entry, bool):
            value: float | None = float(entry)
        elif isinstance(entry, dict):
            value = _number(entry)
            interval = entry.get("ci") or entry.get("interval")
            if isinstance(interval, (list, tuple)) and len(interval) == 2:
                low, high = float(interval[0]), float(interval[1])
            elif isinstance(entry.get("low"), (int, float)) and isinstance(entry.get("high"), (int, float)):
                low, high = float(entry["low"]), float(entry["high"])
        else:
            value = None
        if value is not None:
            out.append(Importance(str(name), value, low, high))
    return out


_SPLIT = re.compile(r"\s*(?:\||,| x | × |:)\s*")


def _pair_records(raw: Any) -> list[tuple[str, str, float]]:
    out: list[tuple[str, str, float]] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            parts = _SPLIT.split(str(key))
            number = _number(value) if isinstance(value, dict) else value
            if len(parts) == 2 and isinstance(number, (int, float)):
                out.append((parts[0], parts[1], float(number)))
    elif isinstance(raw, list):
        for rec in raw:
            if not isinstance(rec, dict):
                continue
            pair = rec.get("fields") or rec.get("pair")
            if pair is None and "a" in rec and "b" in rec:
                pair = [rec["a"], rec["b"]]
            number = _number(rec)
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and number is not None:
                out.append((str(pair[0]), str(pair[1]), number))
    return out


def pair_matrix(doc: dict[str, Any]) -> PairMatrix | None:
    """The pair-strength matrix of an analysis document, symmetric, or None when absent."""
    raw = _section(doc, PAIR_KEYS)
    if raw is None:
        return None
    if isinstance(raw, dict) and isinstance(raw.get("matrix"), list):
        labels = [str(f) for f in (raw.get("fields") or raw.get("labels") or [])]
        matrix = [[_cell(v) for v in row] for row in raw["matrix"]]
        if labels and len(matrix) == len(labels) and all(len(r) == len(labels) for r in matrix):
            return PairMatrix(labels, matrix)
        return None
    records = _pair_records(raw)
    if not records:
        return None
    labels = []
    for a, b, _ in records:
        for name in (a, b):
            if name not in labels:
                labels.append(name)
    pos = {name: i for i, name in enumerate(labels)}
    matrix: list[list[float | None]] = [[None] * len(labels) for _ in labels]
    for a, b, value in records:
        matrix[pos[a]][pos[b]] = value
        matrix[pos[b]][pos[a]] = value
    return PairMatrix(labels, matrix)


def _cell(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
