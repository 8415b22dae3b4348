"""Split invariants and negative sampling guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recforge.core.data.sampling import NegativeSampler
from recforge.core.errors import ConfigError
from recforge.core.data.splits import (
    cold_split,
    leave_last_out,
    random_split,
    temporal_split,
    user_random_split,
    user_temporal_split,
)

rng = np.random.default_rng(0)
USERS = rng.integers(0, 30, 600)
ITEMS = rng.integers(0, 50, 600)
TIMES = rng.permutation(600)


def _partition(split: dict[str, np.ndarray], n: int) -> None:
    allrows = np.concatenate(list(split.values()))
    assert len(allrows) == n and len(np.unique(allrows)) == n  # disjoint and covering


def test_random_and_temporal() -> None:
    split = random_split(600, [0.8, 0.1, 0.1], 7)
    _partition(split, 600)
    assert [len(split[s]) for s in ("train", "valid", "test")] == [480, 60, 60]
    split = temporal_split(TIMES)
    _partition(split, 600)
    assert TIMES[split["train"]].max() < TIMES[split["valid"]].min() <= TIMES[split["valid"]].max() < TIMES[split["test"]].min()


def test_user_temporal_and_leave_last_out_respect_time_per_user() -> None:
    for split in (user_temporal_split(USERS, TIMES), leave_last_out(USERS, TIMES)):
        _partition(split, 600)
        for u in np.unique(USERS):
            tr = TIMES[split["train"]][USERS[split["train"]] == u]
            te = TIMES[split["test"]][USERS[split["test"]] == u]
            if len(tr) and len(te):
                assert tr.max() < te.min()
    lol = leave_last_out(USERS, TIMES)
    assert len(lol["test"]) == len(np.unique(USERS))


def test_cold_items_absent_from_train() -> None:
    split = cold_split(ITEMS, 0.2, 0.1, seed=3)
    _partition(split, 600)
    cold = set(ITEMS[split["test"]])
    assert len(cold) == 10 and not cold & set(ITEMS[split["train"]]) and not cold & set(ITEMS[split["valid"]])


def test_sampler_never_draws_known_positives_and_is_reproducible() -> None:
    users = torch.tensor([0, 0, 0, 1])
    items = torch.tensor([2, 3, 4, 2])
    draws = []
    for _ in range(2):
        sampler = NegativeSampler(8, seed=11)
        sampler.set_positives(users, items)
        draws.append(sampler.sample(torch.tensor([0] * 50 + [1] * 50), 5))
    assert torch.equal(draws[0], draws[1])
    assert not torch.isin(draws[0][:50], torch.tensor([2, 3, 4])).any()
    assert not (draws[0][50:] == 2).any()
    assert draws[0].min() >= 2 and draws[0].max() < 8


def test_popularity_sampler_follows_counts() -> None:
    counts = np.array([0, 0, 1000, 1, 1, 1])
    sampler = NegativeSampler(6, "popularity", counts, power=1.0, seed=1)
    draws = sampler.sample(torch.zeros(2000, dtype=torch.long), 1, exclude_positives=False)
    assert (draws == 2).float().mean() > 0.95


def test_user_random_cuts_each_user_by_the_ratios() -> None:
    split = user_random_split(USERS, [0.8, 0.1, 0.1], seed=3)
    _partition(split, 600)
    for u in np.unique(USERS):
        n = int((USERS == u).sum())
        got = [int((USERS[split[s]] == u).sum()) for s in ("train", "valid", "test")]
        n_train, n_upto_valid = round(0.8 * n), round(0.9 * n)
        assert got == [n_train, n_upto_valid - n_train, n - n_upto_valid]
    again = user_random_split(USERS, [0.8, 0.1, 0.1], seed=3)
    assert all(np.array_equal(split[s], again[s]) for s in split)
    other = user_random_split(USERS, [0.8, 0.1, 0.1], seed=4)
    assert not np.array_equal(split["test"], other["test"])


def test_cold_valid_holds_out_warm_items_and_keeps_test() -> None:
    """valid: cold -> valid is every row of held-out warm items (no train item), test unchanged."""
    split = cold_split(ITEMS, 0.2, 0.1, seed=3, valid="cold")
    _partition(split, 600)
    train, valid, test = (set(ITEMS[split[s]]) for s in ("train", "valid", "test"))
    assert not valid & train and not test & train and not test & valid
    assert len(valid) == round(0.1 * (len(np.unique(ITEMS)) - len(test)))
    assert np.array_equal(split["test"], cold_split(ITEMS, 0.2, 0.1, seed=3)["test"])
    with pytest.raises(ConfigError, match="valid 'items'"):
        cold_split(ITEMS, 0.2, 0.1, seed=3, valid="items")
