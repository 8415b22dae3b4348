"""Synthetic prepared data for the model/trainer/saved-model/recommend tests (not a test file).

``make_prepared()`` fits a real FeatureMap on a small random frame with a user id, an item id,
a user attribute, a multi-valued item attribute and a 0/1 label that depends on them, so that
models can learn it within a few epochs in well under a second.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.schema import FieldSpec
from recforge.core.registry import get_registry

SPECS = [
    FieldSpec("label", "label", role="label"),
    FieldSpec("user_id", "categorical", role="user"),
    FieldSpec("item_id", "categorical", role="item"),
    FieldSpec("gender", "categorical", role="user"),
    FieldSpec("genres", "multi_categorical", role="item", sep="|"),
]


@dataclass
class Prepared:
    """The PreparedData contract (docs/architecture.md), for tests."""

    featuremap: Any
    fields: dict[str, Any]
    label: str
    splits: dict[str, Any]
    user_field: str = "user_id"
    item_field: str = "item_id"
    items: Any = None
    item_meta: Any = None
    fingerprint: str = "synthetic"
    restored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def make_frame(n_users: int = 30, n_items: int = 40, rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(1, n_users + 1, rows)
    items = rng.integers(1, n_items + 1, rows)
    gender = np.where(np.arange(n_users + 1) % 2 == 0, "F", "M")[users]
    genre_names = np.array(["Action", "Comedy", "Drama", "Horror"])
    genres = ["|".join(sorted(set(genre_names[[i % 4, (i * 7) % 4]]))) for i in items]
    taste = (users % 3 == items % 3).astype(float) + 0.5 * (gender == "F") * (items % 2)
    label = (taste + rng.normal(0, 0.3, rows) > 0.6).astype(int)
    return pd.DataFrame({"label": label, "user_id": users.astype(str), "item_id": items.astype(str),
                         "gender": gender, "genres": genres,
                         "title": [f"Movie {i}" for i in items]})


def make_prepared(seed: int = 0) -> Prepared:
    """Train/valid/test split of the synthetic frame with a real FeatureMap and TensorTables."""
    frame = make_frame(seed=seed)
    n = len(frame)
    train_f, valid_f, test_f = frame.iloc[: int(0.8 * n)], frame.iloc[int(0.8 * n): int(0.9 * n)], frame.iloc[int(0.9 * n):]
    fmap, train = FeatureMap.fit_transform(train_f.reset_index(drop=True), SPECS)
    splits = {"train": train, "valid": fmap.transform(valid_f.reset_index(drop=True)),
              "test": fmap.transform(test_f.reset_index(drop=True))}
    meta = frame.drop_duplicates("item_id").set_index("item_id")[["title"]]
    return Prepared(fmap, dict(fmap.fields), "label", splits, item_meta=meta)


def ensure_components() -> None:
    """Register stand-ins for built-ins another engineer has not registered yet (no-op later)."""
    reg = get_registry()
    missing: dict[str, list[type]] = {"encoder": [], "ranker": []}
    if not reg.has("categorical", "encoder"):
        from recforge.plugins.encoders.categorical import CategoricalEncoder

        missing["encoder"].append(CategoricalEncoder)
    if not reg.has("multi_categorical", "encoder"):
        from recforge.plugins.encoders.multi_categorical import MultiCategoricalEncoder

        missing["encoder"].append(MultiCategoricalEncoder)
    if not reg.has("ctr", "ranker"):
        missing["ranker"].append(_ctr_head())
    if not any(missing.values()):
        return
    from recforge.core.hookspecs import hookimpl

    module = types.ModuleType("trainer_test_fallbacks")
    module.register_encoders = hookimpl(lambda register: [register(c) for c in missing["encoder"]])  # type: ignore[attr-defined]
    module.register_rankers = hookimpl(lambda register: [register(c) for c in missing["ranker"]])  # type: ignore[attr-defined]
    reg.register_module(module, name="trainer_test_fallbacks")


def _ctr_head() -> type:
    from recforge.core.components import Ranker

    class Ctr(Ranker):
        """Stand-in ctr head: linear logit, BCE loss.

        Args:
            none.

        Example:
            ranker: ctr
        """

        name = "ctr"
        task = "pointwise"

        def __init__(self, input_dim: int, params: Any) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(input_dim, 1)

        def forward(self, rep: torch.Tensor) -> torch.Tensor:
            return self.linear(rep).squeeze(-1)

        def loss(self, scores: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return torch.nn.functional.binary_cross_entropy_with_logits(scores, batch["label"].float())

        def output(self, scores: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(scores)

    return Ctr


def model_config(interaction: Any = "fm", **train: Any) -> dict[str, Any]:
    return {"data": {"recipe": "synthetic"}, "experiment": "synthetic",
            "model": {"embedding_dim": 8, "interaction": interaction, "ranker": "ctr"},
            "train": {"epochs": 3, "batch_size": 128, "lr": 0.01, "patience": 5, "seed": 7, **train}}


#: titles no training row has: a text model must give each its own vector and score
NEW_TITLES = ["A Quiet Place by the Sea", "Robots of the Red Planet", "The Baker's Long Winter"]


def score_new_titles(loaded: Any) -> tuple[Any, list[float]]:
    """Three rows that differ only in a never-seen title, indexed and scored by a loaded model."""
    from recforge.core.evaluation import predict_table

    rows = pd.DataFrame({"label": [0, 0, 0], "user_id": ["1", "1", "1"], "item_id": ["3", "3", "3"],
                         "gender": ["M"] * 3, "genres": ["Drama"] * 3, "title": NEW_TITLES})
    table = loaded.data.featuremap.transform(rows)
    return table, predict_table(loaded.model, table).tolist()
