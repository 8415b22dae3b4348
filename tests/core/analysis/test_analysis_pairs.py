from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import torch
from torch import nn

from recforge.core.analysis.importance import permutation_importance
from recforge.core.analysis.pairs import friedman_h, pair_matrix, permutation_pairs


def test_exact_xor_ranks_planted_pair_first(xor_data, xor_fn) -> None:
    cols, y = xor_data
    pairs = permutation_pairs(xor_fn, cols, y, repeats=3, seed=0)
    assert len(pairs) == 6
    assert {pairs[0]["a"], pairs[0]["b"]} == {"A", "B"}
    # Synergy: each field alone already loses ~0.5 AUC, both together also ~0.5.
    assert pairs[0]["interaction"]["mean"] == pytest.approx(-0.5, abs=0.08)
    for p in pairs[1:]:
        assert p["strength"] == 0.0  # any pair with an ignored field is exactly additive


def test_precomputed_singles_give_same_answer(xor_data, xor_fn) -> None:
    cols, y = xor_data
    imp = permutation_importance(xor_fn, cols, y, repeats=2, seed=3)
    singles = {k: v["values"] for k, v in imp["fields"].items()}
    assert permutation_pairs(xor_fn, cols, y, single=singles, repeats=2, seed=3) == \
        permutation_pairs(xor_fn, cols, y, repeats=2, seed=3)


def naive_h2(fn, cols: dict[str, torch.Tensor], a: str, b: str) -> float:
    """Friedman's H^2 by explicit loops over the sample (reference implementation)."""
    s = len(next(iter(cols.values())))

    def pd(fields: list[str]) -> np.ndarray:
        values = []
        for i in range(s):
            total = 0.0
            for j in range(s):
                row = {k: (v[i : i + 1] if k in fields else v[j : j + 1]) for k, v in cols.items()}
                total += float(fn(row)[0])
            values.append(total / s)
        arr = np.array(values)
        return arr - arr.mean()

    joint = pd([a, b])
    return float(np.sum((joint - pd([a]) - pd([b])) ** 2) / np.sum(joint**2))


def test_friedman_h_matches_loop_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    cols = {k: torch.rand(7, generator=gen) for k in "xyz"}

    def fn(b: dict[str, torch.Tensor]) -> np.ndarray:
        return (b["x"] * b["y"] + b["z"] ** 2 + 0.3 * b["x"]).numpy()

    got = {(p["a"], p["b"]): p["h2"] for p in friedman_h(fn, cols, sample=7)}
    for a, b in combinations("xyz", 2):
        if (a, b) == ("x", "y"):
            assert got[(a, b)] == pytest.approx(naive_h2(fn, cols, a, b), rel=1e-9)
        else:
            assert got[(a, b)] == pytest.approx(0.0, abs=1e-12)  # additive in z


def test_friedman_h_exact_xor(xor_data, xor_fn) -> None:
    cols, _ = xor_data
    h = friedman_h(xor_fn, cols, sample=60, seed=0)
    assert {h[0]["a"], h[0]["b"]} == {"A", "B"}
    assert h[0]["h2"] > 0.9
    assert all(p["h2"] == pytest.approx(0.0, abs=1e-9) for p in h[1:])


class TinyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.ModuleDict({k: nn.Embedding(8, 4) for k in "ABCD"})
        self.mlp = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = torch.cat([self.emb[k](batch[k]) for k in "ABCD"], dim=-1)
        return self.mlp(x).squeeze(-1)


def test_trained_mlp_learns_and_analysis_finds_the_pair(xor_data) -> None:
    torch.manual_seed(0)
    cols, y = xor_data
    model = TinyMLP()
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    target = torch.as_tensor(y)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(model(cols), target).backward()
        opt.step()
    model.eval()

    def fn(b: dict[str, torch.Tensor]) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(model(b)).numpy()

    imp = permutation_importance(fn, cols, y, repeats=3)
    assert imp["baseline"] > 0.99
    assert imp["fields"]["A"]["mean"] > 0.3 and imp["fields"]["B"]["mean"] > 0.3
    assert abs(imp["fields"]["C"]["mean"]) < 0.02 and abs(imp["fields"]["D"]["mean"]) < 0.02
    pairs = permutation_pairs(fn, cols, y, repeats=3)
    assert {pairs[0]["a"], pairs[0]["b"]} == {"A", "B"}
    assert all(p["strength"] < 0.05 for p in pairs[1:])
    h = friedman_h(fn, cols, sample=50)
    assert {h[0]["a"], h[0]["b"]} == {"A", "B"}
    assert h[0]["h_unnormalised"] > 10 * max(p["h_unnormalised"] for p in h[1:])


def test_pair_matrix_is_symmetric() -> None:
    pairs = [{"a": "x", "b": "y", "v": 0.5}, {"a": "y", "b": "z", "v": {"mean": -1.0}}]
    assert pair_matrix(pairs, ["x", "y", "z"], "v") == [[None, 0.5, None], [0.5, None, -1.0], [None, -1.0, None]]
