from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from recforge.core.analysis import analyze, save_report
from recforge.core.components import Explainable
from recforge.core.data.schema import FieldInfo
from recforge.core.data.table import TensorTable
from recforge.core.errors import ConfigError


class XorModel(nn.Module, Explainable):
    """Scores A XOR B exactly; a softmax gate over the slots exposes ``last_weights``."""

    explains = ("last_weights",)

    field_names = ["A", "B", "C", "item_id", "title"]

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.last_weights: torch.Tensor | None = None

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.last_weights = torch.softmax(torch.stack([batch[k].float() for k in self.field_names], 1), dim=1)
        return ((batch["A"] - 2) ^ (batch["B"] - 2)).float() * self.scale


def _prepared(n: int = 600) -> SimpleNamespace:
    gen = torch.Generator().manual_seed(0)
    def table(rows: int) -> TensorTable:
        a, b = torch.randint(2, 4, (rows,), generator=gen), torch.randint(2, 4, (rows,), generator=gen)
        item = torch.randint(1, 30, (rows,), generator=gen)
        return TensorTable({"label": ((a - 2) ^ (b - 2)).float(), "A": a, "B": b,
                            "C": torch.randint(2, 9, (rows,), generator=gen), "item_id": item, "title": item + 5})
    kinds = {"label": "label", "A": "categorical", "B": "categorical", "C": "categorical", "item_id": "categorical",
             "title": "text"}
    fields = {k: FieldInfo(k, v, "item" if k in ("item_id", "title") else "context") for k, v in kinds.items()}
    return SimpleNamespace(splits={"train": table(n), "valid": table(n)}, fields=fields, label="label",
                           user_field=None, item_field="item_id")


def test_analyze_and_save_report(tmp_path: Path) -> None:
    model, prepared = XorModel(), _prepared()
    report = analyze(model, prepared, "valid", repeats=2, sample=30)
    assert report["fields"] == ["A", "B", "C", "item_id", "title"] and report["metric"] == "auc"
    assert report["baseline"] == 1.0
    assert report["summary"]["top_pairs"][0]["pair"] == ["A", "B"]
    assert report["summary"]["top_pairs_h"][0]["pair"] == ["A", "B"]
    assert {f["field"] for f in report["summary"]["top_fields"][:2]} == {"A", "B"}
    for ignored in ("C", "item_id", "title"):
        assert report["importance"][ignored]["mean"] == 0.0
    assert report["model_views"]["XorModel:last_weights"]["is_distribution"]
    tv = report["text_vs_ids"]
    assert tv["groups"]["text"] == ["title"] and tv["groups"]["ids"] == ["item_id"]
    assert tv["warm"]["text"]["mean"] == 0.0 and tv["warm"]["ids"]["mean"] == 0.0
    assert report["information"]["fields"]["A"]["mi_bits"] < 0.05  # XOR: no single field is informative

    written = save_report(report, tmp_path / "out")
    names = {p.name for p in written}
    assert {"analysis.json", "field_importance.png", "pair_strength.png", "friedman_h.png",
            "information_gain.png"} <= names
    for p in written:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "out" / "analysis.json").read_text())["summary"] == report["summary"]


def test_unknown_split_and_field_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="split 'tset'.*train, valid"):
        analyze(XorModel(), _prepared(50), "tset")
    with pytest.raises(ConfigError, match=r"fields \['Z'\]"):
        analyze(XorModel(), _prepared(50), "valid", fields=["Z"])


def test_rating_labels_use_rmse() -> None:
    prepared = _prepared(80)
    table = prepared.splits["valid"]
    table.dense["label"] = table.dense["label"] * 3 + 1.5
    report = analyze(None, prepared, "valid", repeats=2, pairs=False,
                     predict_fn=lambda b: ((b["A"] - 2) ^ (b["B"] - 2)).float().numpy() * 3 + 1.5)
    assert report["metric"] == "rmse" and report["baseline"] == pytest.approx(0.0)
    assert report["importance"]["A"]["mean"] > 0 and report["importance"]["C"]["mean"] == 0.0
    assert "pairs" not in report and np.isfinite(report["information"]["label_entropy_bits"])
