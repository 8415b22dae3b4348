from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from recforge.core.analysis.model_views import find_layers, model_views
from recforge.core.components import Explainable
from recforge.core.composition import build_interaction

F, D = 3, 4


class Attn(nn.Module, Explainable):
    """Data-dependent softmax attention [B, 2, F, F] (rows are distributions)."""

    explains = ("last_attention",)

    def __init__(self) -> None:
        super().__init__()
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.einsum("bfd,bgd->bfg", x, x)
        self.last_attention = torch.softmax(torch.stack([logits, -logits], dim=1), dim=-1)
        return x.sum(dim=(1, 2))


class Gate(nn.Module, Explainable):
    explains = ("last_weights",)

    def __init__(self) -> None:
        super().__init__()
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last_weights = torch.softmax(x.sum(-1), dim=-1)
        return x.mean(dim=(1, 2))


class PairW(nn.Module, Explainable):
    explains = ("pair_weights",)

    def pair_weights(self) -> torch.Tensor:
        return torch.tensor([0.5, -1.0, 2.0])  # (0,1) (0,2) (1,2)


class Toy(nn.Module):
    field_names = ["a", "b", "c"]

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, D)
        self.attn, self.gate, self.pairs = Attn(), Gate(), PairW()

    def field_vectors(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.emb(torch.stack([batch[k] for k in self.field_names], dim=1))

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.field_vectors(batch)
        return self.attn(x) + self.gate(x)


def _cols(n: int = 20) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {k: torch.randint(0, 10, (n,), generator=gen) for k in "abc"}


def test_views_average_over_the_data_and_are_distributions() -> None:
    torch.manual_seed(0)
    model, cols = Toy(), _cols()
    views = model_views(model, cols, batch_size=7)  # uneven batches: 7, 7, 6
    att = views["attn:last_attention"]
    assert att["fields"] == ["a", "b", "c"] and att["rows"] == 20 and att["is_distribution"]
    with torch.no_grad():
        model.predict(cols)
        expected = model.attn.last_attention.mean(dim=(0, 1))
        expected_w = model.gate.last_weights.mean(dim=0)
    assert np.allclose(att["matrix"], expected.numpy(), atol=1e-6)
    gate = views["gate:last_weights"]
    assert gate["is_distribution"] and np.allclose(gate["weights"], expected_w.numpy(), atol=1e-6)
    pw = views["pairs:pair_weights"]
    assert pw["matrix"] == [[0.0, 0.5, -1.0], [0.5, 0.0, 2.0], [-1.0, 2.0, 0.0]]
    assert pw["rows"] == 0  # read from the weights, no data needed


class Composed(nn.Module):
    """Real interaction layers from the built-in plugins behind one embedding."""

    field_names = ["a", "b", "c"]

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, D)
        self.autoint = build_interaction({"name": "autoint", "params": {"num_layers": 2, "num_heads": 2}}, F, D)
        self.fusion = build_interaction("attention-fusion", F, D)
        self.afm = build_interaction("afm", F, D)
        self.fwfm = build_interaction("fwfm", F, D)

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.emb(torch.stack([batch[k] for k in self.field_names], dim=1))
        parts = [self.autoint(x), self.fusion(x), self.afm(x), self.fwfm(x)]
        return sum(p.sum(dim=1) for p in parts)


def test_real_layers_give_proper_distributions() -> None:
    torch.manual_seed(0)
    model = Composed()
    views = model_views(model, _cols(), batch_size=8)
    by_kind = {(k.split(":")[0].split(".")[0], v["kind"]): v for k, v in views.items()}
    autoint = by_kind[("autoint", "last_attention")]
    assert np.asarray(autoint["matrix"]).shape == (F, F) and autoint["is_distribution"]
    assert by_kind[("fusion", "last_weights")]["is_distribution"]
    afm = by_kind[("afm", "last_attention")]
    assert afm["over"] == "pairs" and afm["is_distribution"]
    fwfm = by_kind[("fwfm", "pair_weights")]
    assert np.allclose(np.asarray(fwfm["matrix"]), np.asarray(fwfm["matrix"]).T)
    # AutoInt's container property and its last layer share one tensor: reported once; the
    # first layer has its own map.
    assert sorted(k for k in views if k.startswith("autoint")) == [
        "autoint.layers.0:last_attention", "autoint:last_attention"]


def test_models_without_hooks_have_no_views() -> None:
    assert model_views(nn.Linear(2, 1), _cols()) == {}
    assert find_layers(object()) == {}


@pytest.mark.parametrize("bad", [torch.zeros(2, 3)])
def test_weights_that_are_not_distributions_are_flagged(bad: torch.Tensor) -> None:
    class G(Gate):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.last_weights = torch.zeros(x.shape[0], F)
            return x.mean(dim=(1, 2))

    model = Toy()
    model.gate = G()
    assert model_views(model, _cols())["gate:last_weights"]["is_distribution"] is False
