"""Model-specific views: what a model's own layers say about fields and field pairs.

Found by walking ``model.modules()``, so any layer following the convention is picked up
wherever it sits (inside a parallel or stacked composition, or a third-party plugin):

* ``pair_weights()`` -> ``[F, F]`` (or the ``F(F-1)/2`` upper triangle, row-major): learned
  pair weights such as FwFM's ``r_ij`` or FM's ``<v_i, v_j>``; read once, no data needed.
  A layer whose ``pair_weights`` takes the field vectors ``x [B, F, D]`` gets them from
  ``model.field_vectors(batch)`` and is averaged over the data.
* ``last_attention`` -> ``[B, heads, F, F]`` or ``[B, F, F]``: attention maps set on each
  forward (AutoInt); averaged over the data and the heads. A ``[B, P]`` attention over the
  ``P = F(F-1)/2`` field pairs (AFM, pairs in row-major upper-triangle order) becomes a
  symmetric ``[F, F]`` map whose upper triangle is the averaged pair distribution.
* ``last_weights`` -> ``[B, F]`` (trailing size-1 or embedding dims are averaged away):
  per-field weights of gating, SENET or attention-fusion layers; averaged over the data.

Slots are labelled with ``model.field_names`` when its length matches, else ``slot<i>``.
Each view records whether it is a probability distribution: every row of a field-attention
map or of a weight vector sums to 1 (non-negative), or, for pair attention, the upper triangle
does. A container exposing its child's tensor (AutoInt's ``last_attention`` property returns
its last layer's map) is reported once, under the first module that shows it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from recforge.core.analysis.columns import model_device, num_rows, sample_index, take
from recforge.core.components import Explainable
from recforge.core.model_api import FieldVectorModel


def _square(weights: Tensor) -> Tensor:
    """An ``[F, F]`` symmetric matrix from a square matrix or a row-major upper triangle."""
    w = weights.detach().float().cpu()
    if w.dim() == 2 and w.shape[0] == w.shape[1]:
        return w
    flat = w.reshape(-1)
    f = int(round((1 + (1 + 8 * flat.numel()) ** 0.5) / 2))
    mat = torch.zeros(f, f)
    iu = torch.triu_indices(f, f, offset=1)
    mat[iu[0], iu[1]] = flat
    return mat + mat.T


def _labels(model: Any, size: int) -> list[str]:
    names = list(getattr(model, "field_names", []) or [])
    return names if len(names) == size else [f"slot{i}" for i in range(size)]


def _is_distribution(rows: np.ndarray, tol: float = 1e-4) -> bool:
    return bool(rows.size and (rows >= -tol).all() and np.allclose(rows.sum(axis=-1), 1.0, atol=tol))


def _is_pair_distribution(mat: np.ndarray, tol: float = 1e-4) -> bool:
    upper = mat[np.triu_indices(mat.shape[0], k=1)]
    return bool(upper.size and (upper >= -tol).all() and abs(float(upper.sum()) - 1.0) <= tol)


def find_layers(model: Any) -> dict[str, dict[str, Any]]:
    """Qualified module name -> {"module", "kinds"} for layers exposing analysis hooks."""
    found: dict[str, dict[str, Any]] = {}
    named = model.named_modules() if isinstance(model, nn.Module) else []
    for qual, module in named:
        kinds = [k for k in module.explains if k in Explainable.VIEWS] if isinstance(module, Explainable) else []
        if kinds:
            found[qual or type(module).__name__] = {"module": module, "kinds": kinds}
    return found


def _needs_input(fn: Any) -> bool:
    try:
        return any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False


class _Mean:
    """Running row-weighted mean of per-batch tensors."""

    def __init__(self) -> None:
        self.total: Tensor | None = None
        self.rows = 0

    def add(self, value: Tensor, rows: int) -> None:
        v = value.detach().float().cpu() * rows
        self.total = v if self.total is None else self.total + v
        self.rows += rows

    def mean(self) -> Tensor | None:
        return None if self.total is None else self.total / max(self.rows, 1)


def _batch_reduce(kind: str, value: Tensor) -> Tensor:
    """Average one batch's attention / weights over the batch (and heads, embedding dims)."""
    v = value.detach().float()
    if kind == "last_attention" and v.dim() == 2:  # [B, P] attention over field pairs
        return v.mean(dim=0)
    if kind == "last_attention":
        return v.reshape(-1, v.shape[-2], v.shape[-1]).mean(dim=0)
    v = v.mean(dim=0)
    while v.dim() > 1:
        v = v.mean(dim=-1)
    return v


def model_views(
    model: Any,
    columns: Mapping[str, Tensor],
    *,
    max_rows: int | None = 20000,
    batch_size: int = 4096,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Averaged pair weights, attention maps and field weights of every hooked layer.

    Args:
        model: a module with ``predict(batch)`` (and ``field_names`` for labels).
        columns: field name -> tensor, one row per example.
        max_rows: rows sampled for the data averages (all when ``None``).
        batch_size: rows per forward pass.
        seed: sampling seed.

    Returns:
        ``{layer: {"kind", "fields", "matrix" | "weights", "is_distribution", "rows"}}``
        with one entry per (layer, view) pair; empty for models without such layers.

    Example:
        >>> views = model_views(model, cols)
        >>> views["interaction.autoint.attention"]["matrix"]
    """
    layers = find_layers(model)
    if not layers:
        return {}
    out: dict[str, dict[str, Any]] = {}
    accum: dict[tuple[str, str], _Mean] = {}
    data_pair = [(q, info["module"]) for q, info in layers.items()
                 if "pair_weights" in info["kinds"] and _needs_input(info["module"].pair_weights)]
    for qual, info in layers.items():
        fn = info["module"].pair_weights if "pair_weights" in info["kinds"] else None
        if fn is not None and not _needs_input(fn):
            mat = _square(torch.as_tensor(fn()))
            out[f"{qual}:pair_weights"] = _matrix_view(model, "pair_weights", mat, rows=0)
    wants_data = data_pair or any(k != "pair_weights" for info in layers.values() for k in info["kinds"])
    if wants_data and columns:
        sample = take(columns, sample_index(num_rows(columns), max_rows, seed))
        device = model_device(model)
        if hasattr(model, "eval"):
            model.eval()
        n = num_rows(sample)
        with torch.no_grad():
            for start in range(0, n, batch_size):
                batch = {k: v[start : start + batch_size].to(device) for k, v in sample.items()}
                rows = int(next(iter(batch.values())).shape[0])
                model.predict(batch)
                seen: set[int] = set()
                for qual, info in layers.items():
                    for kind in ("last_attention", "last_weights"):
                        value = getattr(info["module"], kind) if kind in info["kinds"] else None  # declared
                        if isinstance(value, Tensor) and value.dim() >= 2 and id(value) not in seen:
                            seen.add(id(value))
                            accum.setdefault((qual, kind), _Mean()).add(_batch_reduce(kind, value), rows)
                if data_pair and isinstance(model, FieldVectorModel):
                    x = model.field_vectors(batch)
                    for qual, module in data_pair:
                        accum.setdefault((qual, "pair_weights"), _Mean()).add(_square(module.pair_weights(x)), rows)
        for (qual, kind), mean in accum.items():
            value = mean.mean()
            if value is None:
                continue
            if kind == "last_weights":
                w = value.numpy()
                out[f"{qual}:{kind}"] = {
                    "kind": kind, "fields": _labels(model, w.shape[0]), "weights": w.tolist(),
                    "is_distribution": _is_distribution(w), "rows": mean.rows,
                }
            elif value.dim() == 1:  # averaged pair attention -> [F, F]
                view = _matrix_view(model, kind, _square(value), rows=mean.rows)
                view["is_distribution"] = _is_pair_distribution(np.asarray(view["matrix"]))
                view["over"] = "pairs"
                out[f"{qual}:{kind}"] = view
            else:
                out[f"{qual}:{kind}"] = _matrix_view(model, kind, value, rows=mean.rows)
    return out


def _matrix_view(model: Any, kind: str, mat: Tensor, rows: int) -> dict[str, Any]:
    m = mat.numpy()
    return {
        "kind": kind,
        "fields": _labels(model, m.shape[0]),
        "matrix": m.tolist(),
        "is_distribution": _is_distribution(m) if kind != "pair_weights" else None,
        "rows": rows,
    }
