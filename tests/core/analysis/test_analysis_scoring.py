from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from recforge.core.analysis.scoring import auc, get_metric, logloss
from recforge.core.errors import DataError, UnknownNameError


def brute_force_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def test_auc_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300).astype(float)
    s = rng.integers(0, 7, 300).astype(float)  # many ties
    assert auc(y, s) == pytest.approx(brute_force_auc(y, s), abs=1e-12)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auc_hand_value() -> None:
    # positives 0.8, 0.4; negatives 0.5, 0.1: pairs won 1+1+0+1 = 3 of 4.
    assert auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.4, 0.5, 0.1])) == 0.75


def test_auc_single_class_names_problem() -> None:
    with pytest.raises(DataError, match="only one class"):
        auc(np.ones(5), np.arange(5.0))


def test_metric_direction_and_unknown() -> None:
    assert get_metric("auc").drop(0.8, 0.7) == pytest.approx(0.1)
    assert get_metric("logloss").drop(0.3, 0.5) == pytest.approx(0.2)
    assert logloss(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    with pytest.raises(UnknownNameError, match="did you mean 'auc'"):
        get_metric("acu")


def test_resolved_metric_agrees_with_own_implementation() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200).astype(float)
    s = rng.random(200)
    assert get_metric("auc")(y, s) == pytest.approx(auc(y, s), abs=1e-12)
    assert get_metric("logloss")(y, s) == pytest.approx(logloss(y, s), abs=1e-12)
