"""Item text vectors for ``similar --by text``, and how good their neighbours are.

A model's text field is usually squeezed through a small learned projection (e.g. rank 16 into
a 16-dimensional embedding) that the recommendation loss shapes: after training, unrelated
titles can sit at cosine ~0.997 there. Text similarity therefore compares the language
model's own vectors (the encoder's ``text_vectors``, before any projection): the geometry the
language model learned, not the few directions the click loss kept. Encoders without such
vectors (hashed n-grams) fall back to the model's projected text vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@runtime_checkable
class TextVectorEncoder(Protocol):
    """An encoder that exposes the language model's own vectors of text indices."""

    def text_vectors(self, indices: Tensor) -> Tensor: ...


@runtime_checkable
class RoleFeatures(Protocol):
    """A module with per-field encoders that names the fields of a role (a whole model's
    ``EntityFeatures``), so core finds item text without importing any plugin."""

    encoders: Any

    def fields_of_role(self, role: str) -> list[str]: ...


def _item_text_sources(model: nn.Module) -> Iterator[tuple[nn.Module, Tensor]]:
    """``(encoder, per-item text indices [I])`` of every item text field whose encoder has LM vectors."""
    from recforge.core.model import RecModel

    for module in model.modules():
        if isinstance(module, RecModel):
            names = [n for n in module.encoders if module.fields[n].role == "item" and module.fields[n].kind == "text"]
        elif isinstance(module, RoleFeatures):
            names = module.fields_of_role("item")
        else:
            continue
        for name in names:
            encoder = module.encoders[name]
            lookup = f"lookup_item__{name}"
            if isinstance(encoder, TextVectorEncoder) and hasattr(module, lookup):
                yield encoder, getattr(module, lookup)


@torch.no_grad()
def item_text_vectors(model: nn.Module) -> Tensor:
    """``[I, H]`` the language model's vectors of every item's text (fields L2-normalised, concatenated).

    Raises ``NotImplementedError`` when no item text field has language-model vectors.
    """
    parts = [F.normalize(enc.text_vectors(lookup.long()).float(), dim=-1) for enc, lookup in _item_text_sources(model)]
    if not parts:
        raise NotImplementedError("no item text field with language-model vectors")
    return torch.cat(parts, dim=1)


def neighbour_quality(vectors: Tensor, labels: Sequence[set[Any]], k: int = 10, seed: int = 0) -> dict[str, float]:
    """How often an item's ``k`` nearest neighbours (cosine) share a label (e.g. a genre) with it.

    Args:
        vectors: ``[N, d]`` item vectors (rows without a label set are skipped).
        labels: each row's label set.
        k: neighbours per item.

    Returns:
        ``neighbour_share``: mean share of the k neighbours sharing a label; ``random_share``: the
        same share for random pairs (the baseline); ``max_unrelated_cosine``: the largest cosine
        between two items sharing no label; ``mean_cosine``: over all distinct pairs.
    """
    keep = [i for i, s in enumerate(labels) if s]
    x = F.normalize(vectors[keep].float(), dim=1)
    sets = [labels[i] for i in keep]
    n = len(keep)
    names = sorted({g for s in sets for g in s}, key=str)
    onehot = torch.zeros(n, len(names))
    for i, s in enumerate(sets):
        onehot[i, [names.index(g) for g in s]] = 1.0
    related = (onehot @ onehot.T) > 0
    sims = x @ x.T
    sims.fill_diagonal_(-torch.inf)
    top = torch.topk(sims, min(k, n - 1), dim=1).indices
    neighbour_share = float(related.gather(1, top).float().mean())
    off = ~torch.eye(n, dtype=torch.bool)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, 200_000), rng.integers(0, n, 200_000)
    distinct = a != b
    random_share = float(related[a[distinct], b[distinct]].float().mean())
    unrelated = sims.masked_fill(related | ~off, -torch.inf)
    return {"neighbour_share": neighbour_share, "random_share": random_share,
            "max_unrelated_cosine": float(unrelated.max()), "mean_cosine": float(sims[off].mean())}


def text_vectors_of(model: Any) -> Tensor:
    """The vectors ``similar --by text`` compares: LM vectors, else the model's projected text vectors."""
    try:
        return item_text_vectors(model)
    except NotImplementedError:
        return model.item_vectors(kinds=("text",))
