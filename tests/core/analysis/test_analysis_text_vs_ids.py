from __future__ import annotations

import numpy as np
import pytest
import torch

from recforge.core.analysis.text_vs_ids import field_groups, text_vs_ids, warm_mask
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import DataError


def _data(n: int = 2000) -> tuple[dict[str, torch.Tensor], np.ndarray, torch.Tensor, np.ndarray]:
    """Warm items 2..21 (seen in train) and cold rows (item = unknown index 1) with own texts."""
    gen = torch.Generator().manual_seed(0)
    cold = torch.rand(n, generator=gen) < 0.4
    item = torch.where(cold, torch.ones(n, dtype=torch.long), torch.randint(2, 22, (n,), generator=gen))
    # Text index of a warm item i is i + 10; cold rows carry texts 40..59.
    text = torch.where(cold, torch.randint(40, 60, (n,), generator=gen), item + 10)
    good = torch.rand(60, generator=gen) < 0.5  # each text (= each item) is liked or not
    cols = {"user_id": torch.randint(2, 50, (n,), generator=gen), "item_id": item, "item_text": text}
    labels = good[text].float().numpy()
    return cols, labels, torch.arange(2, 22), good.numpy()


def test_ids_drive_warm_rows_and_text_drives_cold_rows() -> None:
    cols, y, train_items, good = _data()

    def fn(b: dict[str, torch.Tensor]) -> np.ndarray:
        # A model that uses the id embedding when it knows the item and falls back on text.
        by_id = good[np.clip(b["item_id"].numpy() + 10, 0, 59)]
        by_text = good[b["item_text"].numpy()]
        return np.where(b["item_id"].numpy() >= 2, by_id, by_text).astype(float)

    fields = {"user_id": FieldInfo("user_id", "categorical", "user"), "item_id": FieldInfo("item_id", "categorical", "item"),
              "item_text": FieldInfo("item_text", "text", "item")}
    groups = field_groups(fields, ["user_id", "item_id"], cols)
    assert groups == {"text": ["item_text"], "ids": ["user_id", "item_id"], "other": []}
    out = text_vs_ids(fn, cols, y, groups=groups, item_field="item_id", train_items=train_items, repeats=3)
    assert out["warm"]["rows"] + out["cold"]["rows"] == 2000
    assert out["warm"]["baseline"] == 1.0 and out["cold"]["baseline"] == 1.0
    assert out["warm"]["text"]["mean"] == 0.0 and out["warm"]["ids"]["mean"] > 0.3
    assert out["cold"]["ids"]["mean"] == 0.0 and out["cold"]["text"]["mean"] > 0.3
    assert out["warm"]["text_share"] == 0.0 and out["cold"]["text_share"] == 1.0
    assert "other" not in out["groups"]


def test_warm_mask_and_small_parts() -> None:
    assert warm_mask(torch.tensor([0, 1, 2, 3, 4]), torch.tensor([3, 2, 1])).tolist() == [False, False, True, True, False]
    cols = {"item_id": torch.tensor([2, 2, 3, 1]), "t": torch.tensor([0, 1, 2, 3])}
    out = text_vs_ids(lambda b: b["t"].numpy(), cols, np.array([0, 1, 0, 1]), groups={"text": ["t"], "ids": ["item_id"]},
                      item_field="item_id", train_items=torch.tensor([2, 3]), min_rows=1)
    assert out["cold"] == {"rows": 1, "skipped": "labels hold a single class"}
    with pytest.raises(DataError, match="item field 'item'"):
        text_vs_ids(lambda b: b["t"].numpy(), cols, np.zeros(4), groups={}, item_field="item",
                    train_items=torch.tensor([2]))
