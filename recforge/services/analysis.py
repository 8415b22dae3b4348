"""A run's analysis (``analysis.json`` written by ``recforge analyze``) as views to draw.

``analyze`` stores several artifacts of kind ``analysis`` per run: ``analysis.json`` and the
PNG charts beside it, so the report is found by its file name, never by "the newest analysis
artifact". The document's shape is the one :func:`recforge.core.analysis.report.analyze`
writes: ``fields``, ``importance: {field: {mean, low, high}}`` and
``pairs: {strength_matrix: [[...]]}`` (``None`` on the diagonal).

Reading never raises: a missing, unreadable or malformed file becomes an
:class:`AnalysisView` whose ``problem`` says what is wrong and how to fix it, which the console
shows in the panel instead of crashing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_FILE = "analysis.json"


@dataclass(frozen=True)
class Importance:
    """One field's importance; ``low``/``high`` bound the interval when repeats were run."""

    field: str
    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class PairMatrix:
    """A symmetric matrix of pair strengths over ``labels`` (``None`` where unknown)."""

    labels: list[str]
    matrix: list[list[float | None]]


@dataclass(frozen=True)
class AnalysisView:
    """What the console and ``runs show`` present of a run's analysis.

    ``path`` is the report read (None when the run has none); ``problem`` is a one-line
    ``problem; fix`` message when it exists but cannot be shown.
    """

    path: str | None = None
    doc: dict[str, Any] | None = None
    problem: str | None = None
    importance: list[Importance] = field(default_factory=list)
    pairs: PairMatrix | None = None
    plots: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.doc is not None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def field_importance(doc: dict[str, Any]) -> list[Importance]:
    """Per-field importances of an analysis document ([] when it has none)."""
    raw = doc.get("importance")
    if not isinstance(raw, dict):
        return []
    out = []
    for name, entry in raw.items():
        value = _number(entry.get("mean")) if isinstance(entry, dict) else _number(entry)
        if value is None:
            continue
        low = _number(entry.get("low")) if isinstance(entry, dict) else None
        high = _number(entry.get("high")) if isinstance(entry, dict) else None
        out.append(Importance(str(name), value, low, high))
    return out


def pair_matrix(doc: dict[str, Any], key: str = "strength_matrix") -> PairMatrix | None:
    """The pair matrix ``pairs[key]`` over ``fields``, or None when absent or mis-shaped."""
    pairs = doc.get("pairs")
    labels = doc.get("fields")
    if not isinstance(pairs, dict) or not isinstance(labels, list):
        return None
    raw = pairs.get(key)
    if not isinstance(raw, list) or len(raw) != len(labels):
        return None
    if not all(isinstance(row, list) and len(row) == len(labels) for row in raw):
        return None
    return PairMatrix([str(f) for f in labels], [[_number(v) for v in row] for row in raw])


def load_analysis(artifacts: Sequence[tuple[str, str]], run_id: int | None = None) -> AnalysisView:
    """The newest ``analysis.json`` among ``(kind, path)`` artifacts, as a view.

    An ``analysis`` folder artifact is searched for ``analysis.json`` inside it (other folders,
    such as the saved model, are not). PNGs stored beside the report are listed in ``plots``.
    """
    fix = f"rerun `recforge analyze {run_id}`" if run_id is not None else "rerun `recforge analyze`"
    plots = [p for k, p in artifacts if k == "analysis" and p.lower().endswith(".png")]
    for kind, raw_path in reversed(list(artifacts)):
        path = Path(raw_path)
        if kind == "analysis" and path.is_dir():  # a folder of analysis output
            path = path / REPORT_FILE
        if path.name != REPORT_FILE:
            continue
        if not path.is_file():
            return AnalysisView(str(path), problem=f"the analysis file {path} is missing; {fix}", plots=plots)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            reason = type(err).__name__
            return AnalysisView(str(path), problem=f"cannot read {path} ({reason}); {fix}", plots=plots)
        if not isinstance(doc, dict):
            return AnalysisView(str(path), problem=f"{path} is not an analysis report; {fix}", plots=plots)
        return AnalysisView(str(path), doc, None, field_importance(doc), pair_matrix(doc), plots)
    return AnalysisView(plots=plots)
