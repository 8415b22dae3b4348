from __future__ import annotations

import numpy as np
import pytest
import torch

from recforge.core.analysis.columns import batched_predict, permuted, table_columns
from recforge.core.analysis.importance import Summary, permutation_importance
from recforge.core.errors import ConfigError, DataError


def test_ignored_fields_have_exactly_zero_importance(xor_data, xor_fn) -> None:
    cols, y = xor_data
    xor_exact = xor_fn
    imp = permutation_importance(xor_exact, cols, y, repeats=4, seed=1)
    assert imp["baseline"] == 1.0
    for noise in ("C", "D"):
        assert imp["fields"][noise]["values"] == [0.0, 0.0, 0.0, 0.0]
    for planted in ("A", "B"):
        # Shuffling one XOR input makes the prediction independent of the label: AUC ~ 0.5.
        assert imp["fields"][planted]["mean"] == pytest.approx(0.5, abs=0.05)
        assert imp["fields"][planted]["low"] <= imp["fields"][planted]["mean"] <= imp["fields"][planted]["high"]


def test_group_and_reproducibility(xor_data, xor_fn) -> None:
    cols, y = xor_data
    xor_exact = xor_fn
    a = permutation_importance(xor_exact, cols, y, fields=["A"], groups={"noise": ["C", "D"], "ab": ["A", "B"]},
                               repeats=3, seed=7)
    b = permutation_importance(xor_exact, cols, y, fields=["A"], groups={"noise": ["C", "D"], "ab": ["A", "B"]},
                               repeats=3, seed=7)
    assert a == b
    assert a["groups"]["noise"]["mean"] == 0.0
    assert a["groups"]["ab"]["mean"] == pytest.approx(0.5, abs=0.05)


def test_summary_interval_hand_value() -> None:
    s = Summary.of([1.0, 2.0, 3.0])
    # mean 2, sample std 1, t(2) = 4.303 -> half width 4.303 / sqrt(3)
    assert (s.mean, s.std) == (2.0, 1.0)
    assert s.high - s.mean == pytest.approx(4.303 / np.sqrt(3))


def test_ragged_field_moves_whole_rows() -> None:
    cols = {"tags": torch.tensor([[2, 3, 0], [4, 0, 0], [5, 6, 7]]), "x": torch.tensor([0, 1, 2])}
    out = permuted(cols, ["tags"], torch.tensor([2, 0, 1]))
    assert out["tags"].tolist() == [[5, 6, 7], [2, 3, 0], [4, 0, 0]]
    assert out["x"] is cols["x"]


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(DataError, match="different row counts"):
        table_columns({"a": torch.zeros(3), "b": torch.zeros(4)})
    with pytest.raises(ConfigError, match="repeats"):
        permutation_importance(lambda b: b["a"].numpy(), {"a": torch.arange(4.0)}, np.array([0, 1, 0, 1]), repeats=0)
    with pytest.raises(DataError, match="field 'zz'"):
        permutation_importance(lambda b: b["a"].numpy(), {"a": torch.arange(4.0)}, np.array([0, 1, 0, 1]),
                               fields=["zz"])
    with pytest.raises(DataError, match="returned 1 scores for 4 rows"):
        batched_predict(lambda b: np.zeros(1), {"a": torch.arange(4.0)})
