from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recforge.core.analysis.information import information_gain, mutual_information, quantile_codes, row_set_codes
from recforge.core.errors import ConfigError

Y = np.array([1, 1, 1, 0, 0, 0, 0, 1], dtype=np.float32)
X = torch.tensor([2, 2, 2, 2, 3, 3, 3, 3])  # u: labels 1,1,1,0 ; v: 0,0,0,1


def test_information_gain_hand_value() -> None:
    # H(Y) = 1 bit; H(Y|X) = H(3/4) = 0.811278; IG = 0.188722 bits.
    h34 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    info = information_gain({"x": X}, Y)
    assert info["label_entropy_bits"] == pytest.approx(1.0)
    assert info["fields"]["x"]["mi_bits"] == pytest.approx(1 - h34, abs=1e-12)
    assert info["fields"]["x"]["ratio"] == pytest.approx(1 - h34, abs=1e-12)
    # Miller-Madow: 4 occupied cells - 2 - 2 + 1 = 1 -> bias 1 / (2 * 8 * ln 2) bits.
    assert info["fields"]["x"]["mi_corrected_bits"] == pytest.approx(1 - h34 - 1 / (16 * math.log(2)), abs=1e-12)


def test_constant_and_identical_fields() -> None:
    info = information_gain({"const": torch.full((8,), 5), "copy": torch.tensor(Y).long()}, Y)
    assert info["fields"]["const"]["mi_bits"] == 0.0
    assert info["fields"]["copy"]["mi_bits"] == pytest.approx(1.0)
    assert list(info["fields"]) == ["copy", "const"]  # strongest first


def test_multi_valued_set_and_token_modes() -> None:
    tags = torch.tensor([[2, 3], [3, 2], [4, 0], [4, 0]])
    y = np.array([1, 1, 0, 0], dtype=np.float32)
    assert row_set_codes(tags.numpy()).tolist()[0] == row_set_codes(tags.numpy()).tolist()[1]
    assert information_gain({"tags": tags}, y)["fields"]["tags"]["mi_bits"] == pytest.approx(1.0)
    # token mode: occurrences (2,1) (3,1) (3,1) (2,1) (4,0) (4,0) -> token 4 <=> label 0.
    # H(label over occurrences) = H(1/3); tokens determine it -> MI = H(1/3).
    h13 = -(1 / 3 * math.log2(1 / 3) + 2 / 3 * math.log2(2 / 3))
    token = information_gain({"tags": tags}, y, multi="token")["fields"]["tags"]
    assert token["mi_bits"] == pytest.approx(h13)
    assert token["mode"] == "token"


def test_numeric_quantile_bins_and_vectors() -> None:
    values = np.arange(100, dtype=np.float64)
    codes = quantile_codes(values, 4)
    assert np.bincount(codes).tolist() == [25, 25, 25, 25]
    y = (np.arange(100) >= 50).astype(np.float32)
    info = information_gain({"num": torch.tensor(values, dtype=torch.float32), "vec": torch.zeros(100, 3)}, y, bins=4)
    assert info["fields"]["num"]["mi_bits"] == pytest.approx(1.0)
    assert "vec" in info["skipped"]
    assert mutual_information(np.array([0, 1]), np.array([0, 1]))["mi_bits"] == pytest.approx(1.0)


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="multi-valued mode 'bag'"):
        information_gain({"x": X}, Y, multi="bag")
