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


# --------------------------------------------------------------------------- Criteo-like raw Parquet
#: Criteo's layout: 13 numeric counts I1..I13 and 26 categorical ids C1..C26. Known values per
#: categorical field and its Zipf exponent: three fields are sized so that a 50M-row set holds
#: more than 1M distinct ids (a flatter exponent, a wide id range), the rest span 3..300k.
CRITEO_NUMERIC = [f"I{i}" for i in range(1, 14)]
CRITEO_CATEGORICAL: dict[str, tuple[int, float]] = {
    "C1": (1_460, 1.2), "C2": (583, 1.2), "C3": (1_600_000, 1.02), "C4": (1_300_000, 1.03), "C5": (305, 1.2),
    "C6": (24, 1.3), "C7": (12_517, 1.2), "C8": (633, 1.2), "C9": (3, 1.5), "C10": (93_145, 1.15),
    "C11": (5_683, 1.2), "C12": (1_100_000, 1.05), "C13": (3_194, 1.2), "C14": (27, 1.3), "C15": (14_992, 1.2),
    "C16": (300_000, 1.1), "C17": (10, 1.4), "C18": (5_652, 1.2), "C19": (2_173, 1.2), "C20": (4, 1.5),
    "C21": (200_000, 1.1), "C22": (18, 1.3), "C23": (15, 1.3), "C24": (286_181, 1.1), "C25": (105, 1.2),
    "C26": (142_572, 1.1),
}


def criteo_specs() -> list[dict[str, Any]]:
    """The field declarations (``data.fields``) of :func:`write_criteo_like`'s files."""
    return ([{"name": "label", "kind": "label"}]
            + [{"name": n, "kind": "numeric", "normalize": "log"} for n in CRITEO_NUMERIC]
            + [{"name": n, "kind": "categorical"} for n in CRITEO_CATEGORICAL])


def criteo_chunk(rows: int, seed: int) -> Any:
    """One Arrow table of ``rows`` Criteo-like rows (ids are raw int64 values, not indices).

    Raw ids are scrambled (``id * 2654435761 mod 2**40``) so that they look like hashed
    Criteo values rather than small integers; numeric counts are log-normal with 5% missing.
    The label's log-odds depend on two categorical and one numeric field.
    """
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for name in CRITEO_NUMERIC:
        values = np.floor(rng.lognormal(1.5, 1.5, rows)).astype(np.float32)
        values[rng.random(rows) < 0.05] = np.nan
        columns[name] = values
    hot: dict[str, np.ndarray] = {}
    for name, (vocab, a) in CRITEO_CATEGORICAL.items():
        ids = rng.zipf(a, rows) - 1
        np.remainder(ids, vocab, out=ids)
        hot[name] = ids
        columns[name] = (ids * 2654435761 + 7) % (1 << 40)
    logit = (0.8 * (hot["C6"] % 3 == 0) - 0.6 * (hot["C10"] % 5 == 0)
             + 0.3 * np.nan_to_num(np.log1p(columns["I1"]), nan=0.0) - 1.2)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return pa.table({"label": label, **columns})


def write_criteo_like(folder: Any, rows: int, *, rows_per_file: int = 1_000_000, seed: int = 2024) -> list[Any]:
    """Write ``rows`` Criteo-like rows as Parquet files of ``rows_per_file`` rows each.

    Memory stays at one file's rows whatever ``rows`` is; file ``k`` is drawn with seed
    ``seed + k``, so any prefix of the files is the same whatever the total.

    Example:
        write_criteo_like(Path("/tmp/criteo"), 2_000_000)  # part-00000.parquet, part-00001.parquet
    """
    from pathlib import Path

    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k, start in enumerate(range(0, rows, rows_per_file)):
        path = folder / f"part-{k:05d}.parquet"
        pq.write_table(criteo_chunk(min(rows_per_file, rows - start), seed + k), path, row_group_size=1 << 17)
        files.append(path)
    return files
