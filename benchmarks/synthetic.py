"""Synthetic CTR data straight into a recforge TensorTable, and a model over it.

The ``limit`` and ``scale`` suites need data of a chosen shape and size without a CSV round
trip: 20M rows through pandas would measure the CSV reader, not training. Ids are Zipf-skewed
(a few hot ids, a long tail, like real logs), there is one multi-valued field, and the label
depends on two of the fields so that training has something to learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from recforge.core.data.schema import FIRST, FieldInfo
from recforge.core.data.table import TensorTable

#: ml100k-ctr's vocabulary sizes (known values, without padding/unknown) for the limit suite
ML100K_SHAPE = {"user_id": 943, "item_id": 1682, "gender": 2, "age_bucket": 7, "occupation": 21,
                "zip1": 10, "release_year": 71}
#: the scale suite's 8 categorical fields
MULTI = "tags"
SCALE_SHAPE = {f"c{i}": v for i, v in enumerate((1_000_000, 200_000, 50_000, 10_000, 1_000, 100, 20, 5))}


@dataclass
class SyntheticCTR:
    """A TensorTable of synthetic rows plus the fitted field infos a model is built from."""

    table: TensorTable
    fields: dict[str, FieldInfo]
    multi: str = MULTI
    label: str = "label"
    meta: dict[str, Any] = field(default_factory=dict)

    def prepared(self) -> Any:
        """A PreparedData stand-in with only what ``build_model`` reads (no user/item lookups)."""
        return SimpleNamespace(fields=self.fields, label=self.label, splits={"train": self.table},
                               user_field=None, item_field=None, items=None, restored=False)


def zipf_ids(rng: np.random.Generator, rows: int, vocab: int, a: float = 1.2) -> np.ndarray:
    """``rows`` ids in ``[FIRST, FIRST + vocab)``, Zipf-distributed (id FIRST the hottest)."""
    ids = rng.zipf(a, rows) - 1
    np.remainder(ids, vocab, out=ids)
    ids += FIRST
    return ids


def make_ctr(rows: int, shape: dict[str, int], *, multi_vocab: int = 18, multi_max_len: int = 6,
             seed: int = 2024) -> SyntheticCTR:
    """``rows`` rows: one Zipf categorical column per ``shape`` entry and a multi-valued field.

    Args:
        rows: number of rows.
        shape: field name -> number of known values.
        multi_vocab: known values of the multi-valued field (``genres``-like).
        multi_max_len: most values per row of the multi-valued field (1..max per row).
        seed: numpy seed; the same arguments give the same table.

    Example:
        data = make_ctr(1000, {"user_id": 50, "item_id": 80})
        data.table.num_rows  # 1000
    """
    rng = np.random.default_rng(seed)
    fields = ctr_fields(shape, multi_vocab, multi_max_len)
    dense = {name: torch.from_numpy(zipf_ids(rng, rows, vocab)) for name, vocab in shape.items()}
    lengths = rng.integers(1, multi_max_len + 1, rows)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    del lengths
    values = rng.integers(FIRST, FIRST + multi_vocab, int(offsets[-1]))
    names = list(shape)
    logit = (dense[names[0]] % 7 == 0).float() - (dense[names[-1]] % 3 == 0).float() * 0.5
    prob = torch.sigmoid(logit - 0.3)
    gen = torch.Generator().manual_seed(seed)
    dense["label"] = (torch.rand(rows, generator=gen) < prob).float()
    table = TensorTable(dense, {MULTI: (torch.from_numpy(values), torch.from_numpy(offsets))},
                        {MULTI: multi_max_len})
    return SyntheticCTR(table, fields, MULTI)


def ctr_fields(shape: dict[str, int], multi_vocab: int = 18, multi_max_len: int = 6) -> dict[str, FieldInfo]:
    """The fitted field infos of :func:`make_ctr`'s table (rebuilt from the shape alone)."""
    fields = {name: FieldInfo(name=name, kind="categorical", role="context", vocab_size=vocab + FIRST,
                              vocab_key=name) for name, vocab in shape.items()}
    fields[MULTI] = FieldInfo(name=MULTI, kind="multi_categorical", role="context",
                              vocab_size=multi_vocab + FIRST, vocab_key=MULTI, max_len=multi_max_len)
    fields["label"] = FieldInfo(name="label", kind="label", role="label")
    return fields


def deepfm_config(feature_fields: list[str], dim: int = 16, hidden_units: list[int] | None = None) -> dict[str, Any]:
    """The model section of ``examples/configs/ml100k-ctr-deepfm.yaml`` over other fields."""
    interaction: Any = "deepfm" if hidden_units is None else {"name": "deepfm", "params": {"hidden_units": hidden_units}}
    return {"model": {"embedding_dim": dim, "fields": feature_fields, "interaction": interaction, "ranker": "ctr"}}


def build_deepfm(data: SyntheticCTR, dim: int = 16) -> Any:
    """recforge's DeepFM (the preset's defaults) over the synthetic fields."""
    from recforge.core.model import build_model

    features = [n for n, f in data.fields.items() if f.kind != "label"]
    return build_model(deepfm_config(features, dim), data.prepared())
