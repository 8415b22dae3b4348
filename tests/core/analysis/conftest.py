"""Synthetic data with a planted pairwise interaction: label = A XOR B; C and D are noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def xor_columns(n: int = 2000, seed: int = 0) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """Categorical indices (known values start at 2): A, B in {2, 3}; C, D in {2..6}."""
    gen = torch.Generator().manual_seed(seed)
    cols = {
        "A": torch.randint(2, 4, (n,), generator=gen),
        "B": torch.randint(2, 4, (n,), generator=gen),
        "C": torch.randint(2, 7, (n,), generator=gen),
        "D": torch.randint(2, 7, (n,), generator=gen),
    }
    labels = ((cols["A"] - 2) ^ (cols["B"] - 2)).float().numpy()
    return cols, labels


def xor_exact(batch: dict[str, torch.Tensor]) -> np.ndarray:
    """The planted function itself; it ignores C and D entirely."""
    return ((batch["A"] - 2) ^ (batch["B"] - 2)).float().numpy()


@pytest.fixture
def xor_data() -> tuple[dict[str, torch.Tensor], np.ndarray]:
    return xor_columns()


@pytest.fixture
def xor_fn():
    """The exact planted function as a ``predict_fn``."""
    return xor_exact
