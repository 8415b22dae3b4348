"""``compare_runs``: metric deltas against the first run and config differences."""

from __future__ import annotations

import pytest

from recforge.core.errors import NotFoundError, StoreError
from recforge.core.store import Store
from recforge.core.store.compare import MISSING, compare_runs, flatten


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}, "f": None}) == {
        "a.b": 1, "a.c.d": [1, 2], "e": {}, "f": None,
    }


def test_compare_known_deltas_and_differences() -> None:
    with Store.open() as store:
        base = store.create_run("e", name="a", config={"train": {"lr": 0.1, "epochs": 3}, "model": {"x": 1}}, plugins={})
        other = store.create_run("e", name="b", config={"train": {"lr": 0.05, "epochs": 3}}, plugins={})
        store.log_metrics(base.id, {"auc": 0.70, "loss": 0.5}, step=1)
        store.log_metrics(base.id, {"auc": 0.75}, step=2)
        store.log_metrics(other.id, {"auc": 0.80, "ndcg": 0.3}, step=1)
        result = compare_runs(store, [base.id, other.id])
        with pytest.raises(StoreError, match="at least two runs"):
            compare_runs(store, [base.id])
        with pytest.raises(NotFoundError, match="run 99 does not exist"):
            compare_runs(store, [base.id, 99])
    rows = {m.key: m for m in result.metrics}
    assert rows["auc"].values == {1: 0.75, 2: 0.80}
    assert rows["auc"].deltas[2] == pytest.approx(0.05) and rows["auc"].deltas[1] == 0.0
    assert rows["loss"].values == {1: 0.5, 2: None} and rows["loss"].deltas[2] is None
    assert rows["ndcg"].deltas == {1: None, 2: None}
    assert {c.key: c.values for c in result.config} == {
        "train.lr": {1: 0.1, 2: 0.05}, "model.x": {1: 1, 2: MISSING},
    }
    data = result.to_dict()
    assert data["baseline"] == 1 and data["metrics"][0]["values"] == {"1": 0.75, "2": 0.80}
    assert [r["name"] for r in data["runs"]] == ["a", "b"]
