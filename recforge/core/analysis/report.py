"""One service that runs every analysis view and assembles a JSON-able report.

``analyze(model, prepared, split)`` is what the CLI and the console call; ``save_report``
writes ``analysis.json`` and the PNG charts next to it. The model-agnostic views only see a
``predict_fn`` and the split's columns; the model-specific views walk the model's layers.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recforge.core.analysis import plots
from recforge.core.analysis.columns import PredictFn, model_predict_fn, num_rows, sample_index, table_columns, take
from recforge.core.analysis.importance import permutation_importance
from recforge.core.analysis.information import information_gain
from recforge.core.analysis.model_views import model_views
from recforge.core.analysis.pairs import friedman_h, pair_matrix, permutation_pairs
from recforge.core.analysis.text_vs_ids import field_groups, text_vs_ids
from recforge.core.errors import ConfigError, DataError
from recforge.core.progress import stage

if TYPE_CHECKING:
    from recforge.core.data.prepare import PreparedData

log = logging.getLogger(__name__)

REPORT_FILE = "analysis.json"


def default_metric(labels: np.ndarray) -> str:
    """AUC for 0/1 labels, RMSE for anything else (ratings)."""
    return "auc" if np.isin(np.unique(labels), [0.0, 1.0]).all() else "rmse"


def model_inputs(model: Any, candidates: Sequence[str]) -> list[str]:
    """The candidate fields a composed model reads, in slot order, else all candidates.

    ``field_names`` names slots (``genres`` or ``genres[0]`` for multi-slot encoders); columns
    kept in the data only for display (e.g. a raw title) are left out of the analysis.
    """
    slots = dict.fromkeys(str(s).split("[")[0] for s in (getattr(model, "field_names", None) or []))
    used = [s for s in slots if s in candidates]
    return used if used else list(candidates)


def _split_columns(prepared: PreparedData, split: str) -> dict[str, torch.Tensor]:
    splits = prepared.splits
    if split not in splits or splits[split] is None:
        raise ConfigError(f"split '{split}' is not in the prepared data",
                          fix=f"use one of {', '.join(k for k, v in splits.items() if v is not None)}")
    return table_columns(splits[split])


def analyze(
    model: Any,
    prepared: PreparedData,
    split: str = "valid",
    *,
    repeats: int = 5,
    sample: int = 100,
    max_rows: int | None = 20000,
    metric: str | None = None,
    fields: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 4096,
    predict_fn: PredictFn | None = None,
    pairs: bool = True,
) -> dict[str, Any]:
    """Run every view on one split of ``prepared`` and return a JSON-able report.

    Args:
        model: the trained model (``predict(batch)``; ``field_names`` for model views).
        prepared: ``PreparedData`` (``splits``, ``fields``, ``label``, ``item_field``...).
        split: split to analyse (``valid`` by default; ``test`` for final figures).
        repeats: permutations per field, pair and group (intervals come from them).
        sample: rows for Friedman's H (``sample^2`` predictions per field and pair).
        max_rows: rows sampled for the permutation views (all when ``None``).
        metric: ``auc`` / ``logloss`` / ``rmse`` / ``mae``; AUC for 0/1 labels else RMSE.
        fields: fields to analyse (default: every field of the split but the label).
        seed: seed of every sample and permutation.
        batch_size: rows per prediction call.
        predict_fn: overrides ``model.predict`` (e.g. an exact function in tests).
        pairs: compute the pair views (``F(F-1)/2`` pairs; off for very wide schemas).

    Returns:
        ``{"split", "rows", "metric", "baseline", "fields", "importance", "pairs",
        "information", "model_views", "text_vs_ids", "summary"}``.

    Example:
        >>> report = analyze(model, prepared, "valid", repeats=3)
        >>> report["summary"]["top_pairs"][:3]
    """
    all_columns = _split_columns(prepared, split)
    label = prepared.label
    if label not in all_columns:
        raise DataError(f"split '{split}' has no label column '{label}'", fix="analyse a labelled split")
    known = prepared.fields
    names = list(fields or model_inputs(model, [n for n in all_columns if n != label and (not known or n in known)]))
    missing = [n for n in names if n not in all_columns]
    if missing:
        raise ConfigError(f"fields {missing} are not columns of split '{split}'",
                          fix=f"choose from {sorted(n for n in all_columns if n != label)}")
    rows = sample_index(num_rows(all_columns), max_rows, seed)
    picked = take(all_columns, rows)
    labels = picked[label].float().numpy()
    columns = {n: picked[n] for n in names}
    metric_name = metric or default_metric(labels)
    fn = predict_fn or model_predict_fn(model)
    common = {"repeats": repeats, "metric": metric_name, "seed": seed, "batch_size": batch_size}

    log.info("analysis: permutation importance of %d fields on %d rows", len(names), len(labels))
    with stage(f"analysis: importance of {len(names)} fields on {len(labels):,} rows"):
        importance = permutation_importance(fn, columns, labels, fields=names, **common)
    report: dict[str, Any] = {
        "split": split, "rows": int(len(labels)), "metric": importance["metric"],
        "baseline": importance["baseline"], "fields": names, "seed": seed, "repeats": repeats,
        "importance": importance["fields"],
    }
    if pairs and len(names) > 1:
        singles = {n: v["values"] for n, v in importance["fields"].items()}  # type: ignore[union-attr]
        with stage(f"analysis: {len(names) * (len(names) - 1) // 2} field pairs"):
            perm_pairs = permutation_pairs(fn, columns, labels, fields=names, single=singles, **common)
        with stage(f"analysis: Friedman's H on {sample} rows"):
            h_pairs = friedman_h(fn, columns, fields=names, sample=sample, seed=seed, batch_size=batch_size)
        report["pairs"] = {
            "permutation": perm_pairs, "friedman_h": h_pairs, "sample": sample,
            "interaction_matrix": pair_matrix(perm_pairs, names, "interaction"),
            "strength_matrix": pair_matrix(perm_pairs, names, "strength"),
            "h2_matrix": pair_matrix(h_pairs, names, "h2"),
        }
    kinds = {n: getattr(known.get(n), "kind", None) for n in names} if known else None
    with stage("analysis: information gain, model views, text vs ids"):
        report["information"] = information_gain(columns, labels, kinds={k: v for k, v in (kinds or {}).items() if v})
        report["model_views"] = model_views(model, columns, batch_size=batch_size, seed=seed) if model is not None else {}
        report["text_vs_ids"] = _text_vs_ids(fn, prepared, columns, labels, known, common)
    report["summary"] = summarize(report)
    return json.loads(json.dumps(report, default=_jsonable))


def _text_vs_ids(fn: PredictFn, prepared: PreparedData, columns: dict, labels: np.ndarray, known: dict,
                 common: dict[str, Any]) -> dict[str, Any]:
    item = prepared.item_field
    train = prepared.splits.get("train")
    if not item or item not in columns or train is None:
        return {"skipped": "no item-id field or no training split"}
    groups = field_groups(known, [prepared.user_field, item], columns)
    if not groups["text"]:
        return {"skipped": "the model has no text fields", "groups": groups}
    dense = getattr(train, "dense", None)
    train_items = dense[item] if isinstance(dense, dict) and item in dense else table_columns(train)[item]
    return text_vs_ids(fn, columns, labels, groups=groups, item_field=item, train_items=train_items, **common)


def summarize(report: dict[str, Any], top: int = 5) -> dict[str, Any]:
    """The headline figures: top fields, top pairs (both estimates), top information gain."""
    imp = report.get("importance", {})
    top_fields = sorted(imp.items(), key=lambda kv: -kv[1]["mean"])[:top]
    summary: dict[str, Any] = {
        "top_fields": [{"field": k, "drop": v["mean"], "low": v["low"], "high": v["high"]} for k, v in top_fields],
    }
    pairs = report.get("pairs")
    if pairs:
        summary["top_pairs"] = [{"pair": [p["a"], p["b"]], "strength": p["strength"],
                                 "interaction": p["interaction"]["mean"]} for p in pairs["permutation"][:top]]
        summary["top_pairs_h"] = [{"pair": [p["a"], p["b"]], "h2": p["h2"]} for p in pairs["friedman_h"][:top]]
    info = report.get("information", {}).get("fields", {})
    summary["top_information"] = [{"field": k, "mi_bits": v["mi_bits"]} for k, v in list(info.items())[:top]]
    return summary


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return str(value)


def _finite(obj: Any) -> Any:
    """NaN/inf become ``None`` so ``analysis.json`` is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def save_report(report: dict[str, Any], directory: str | Path) -> list[Path]:
    """Write ``analysis.json`` and the PNG charts into ``directory``; return the written paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    path.write_text(json.dumps(_finite(report), indent=2, allow_nan=False))
    written = [path]
    names = report.get("fields", [])
    metric = report.get("metric", "metric")
    if report.get("importance"):
        written.append(plots.bars(report["importance"], f"Permutation importance ({report.get('split')})",
                                  f"{metric} drop when shuffled (95% CI)", out / "field_importance.png"))
    pairs = report.get("pairs")
    if pairs:
        written.append(plots.heatmap(pairs["interaction_matrix"], names, "Pair interaction (joint - single drops)",
                                     out / "pair_strength.png", colorbar=f"{metric} drop", diverging=True))
        written.append(plots.heatmap(pairs["h2_matrix"], names, f"Friedman H^2 (sample {pairs['sample']})",
                                     out / "friedman_h.png", colorbar="H^2"))
    info = report.get("information", {}).get("fields")
    if info:
        written.append(plots.bars(info, "Mutual information with the label", "bits",
                                  out / "information_gain.png", key="mi_bits"))
    for name, view in report.get("model_views", {}).items():
        if "matrix" in view:
            safe = "".join(c if c.isalnum() else "_" for c in name)
            written.append(plots.heatmap(view["matrix"], view["fields"], f"{name} (mean over data)",
                                         out / f"view_{safe}.png"))
    return written
