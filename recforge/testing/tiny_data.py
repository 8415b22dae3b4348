"""The tiny real dataset the conformance suite trains on: a few hundred MovieLens-100K rows.

Rows come from the ``movielens-100k`` recipe (raw files in ``RECFORGE_DATA_DIR/ml-100k``,
downloaded from GroupLens and sha256-checked when absent). To make a few hundred rows
learnable in one or two epochs, they are drawn from the densest corner of the rating matrix
(the most active users x the most rated items), so user and item effects seen in training
recur in validation. The CSV files are written once per process into a temporary folder and
read back through the ``files`` recipe, exactly as a user's own data would be.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: rows in each split of the tiny experiment
SPLIT_ROWS: dict[str, int] = {"train": 480, "valid": 240, "test": 120}
TOP_USERS = 60
TOP_ITEMS = 80
SEED = 2024

FIELDS: list[dict[str, Any]] = [
    {"name": "label", "kind": "label"},
    {"name": "user_id", "kind": "categorical", "role": "user"},
    {"name": "item_id", "kind": "categorical", "role": "item"},
    {"name": "gender", "kind": "categorical", "role": "user"},
    {"name": "age_bucket", "kind": "categorical", "role": "user"},
    {"name": "occupation", "kind": "categorical", "role": "user"},
    {"name": "zip1", "kind": "categorical", "role": "user"},
    {"name": "release_year", "kind": "categorical", "role": "item"},
    {"name": "genres", "kind": "multi_categorical", "role": "item", "sep": "|"},
    {"name": "title", "kind": "text", "role": "item"},
    {"name": "timestamp", "kind": "numeric"},
]
#: the fields a model encodes by default (title and timestamp are there for text and numeric encoders)
MODEL_FIELDS = [f["name"] for f in FIELDS if f["kind"] not in ("label", "numeric", "text")]


@lru_cache(maxsize=1)
def tiny_split_files() -> dict[str, str]:
    """Write the tiny train/valid/test CSVs (once per process) and return their paths."""
    from recforge.core.components import build_params
    from recforge.plugins.datasets.movielens_100k import MovieLens100K

    recipe = MovieLens100K()
    frame = recipe.load(build_params(MovieLens100K, {})).frames["all"]
    users = frame["user_id"].value_counts().index[:TOP_USERS]
    items = frame["item_id"].value_counts().index[:TOP_ITEMS]
    dense = frame[frame["user_id"].isin(users) & frame["item_id"].isin(items)]
    order = np.random.default_rng(SEED).permutation(len(dense))
    folder = Path(tempfile.mkdtemp(prefix="recforge-conformance-"))
    paths: dict[str, str] = {}
    start = 0
    columns = [f["name"] for f in FIELDS]
    for split, rows in SPLIT_ROWS.items():
        part = dense.iloc[order[start : start + rows]][columns]
        start += rows
        path = folder / f"{split}.csv"
        part.to_csv(path, index=False)
        paths[split] = str(path)
    return paths


def tiny_data_config() -> dict[str, Any]:
    """The ``data`` section of a tiny experiment over :func:`tiny_split_files`."""
    return {"recipe": "files", "params": dict(tiny_split_files()), "fields": [dict(f) for f in FIELDS]}


@lru_cache(maxsize=1)
def _scratch_root() -> str:
    return tempfile.mkdtemp(prefix="recforge-conformance-home-")


@contextmanager
def scratch_home() -> Iterator[str]:
    """Point ``RECFORGE_HOME`` at a scratch folder while the suite prepares, trains and saves,
    so conformance runs never touch the user's store, artifacts or caches."""
    before = os.environ.get("RECFORGE_HOME")
    os.environ["RECFORGE_HOME"] = _scratch_root()
    try:
        yield _scratch_root()
    finally:
        if before is None:
            os.environ.pop("RECFORGE_HOME", None)
        else:
            os.environ["RECFORGE_HOME"] = before


@lru_cache(maxsize=1)
def tiny_prepared() -> Any:
    """The tiny data prepared once per process (real FeatureMap, real TensorTables)."""
    from recforge.core.data import prepare_data

    with scratch_home():
        return prepare_data(tiny_data_config(), use_cache=False)
