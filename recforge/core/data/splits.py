"""Train / valid / test splits. Each method returns disjoint row-index arrays covering the data.

The random and cold-item rules are the ones ``shared/tasks/README.md`` documents, so
``{method: random, ratios: [0.8, 0.1, 0.1], seed: 2024}`` on MovieLens-100k reproduces the
``ml100k-ctr`` task rows exactly and ``{method: cold_item, cold_fraction: 0.2,
valid_fraction: 0.1, seed: 2024}`` reproduces ``ml100k-coldstart``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recforge.core.errors import ConfigError, DataError, unknown_name

Split = dict[str, np.ndarray]
#: how a cold split builds valid: rows of held-out warm keys (cold) or random warm rows
COLD_VALID: tuple[str, ...] = ("cold", "random")
METHODS: tuple[str, ...] = ("random", "user_random", "temporal", "user_temporal", "leave_last_out", "cold_item", "cold_user", "presplit")


def _ratios(ratios: Any) -> tuple[float, float, float]:
    vals = [float(r) for r in (ratios or (0.8, 0.1, 0.1))]
    if len(vals) == 2:
        vals.append(0.0)
    if len(vals) != 3 or any(r < 0 for r in vals) or not np.isclose(sum(vals), 1.0):
        raise ConfigError(f"split ratios {ratios!r} must be three non-negative numbers summing to 1", fix="write e.g. ratios: [0.8, 0.1, 0.1]")
    return vals[0], vals[1], vals[2]


def _cut(order: np.ndarray, ratios: tuple[float, float, float]) -> Split:
    n = len(order)
    a = round(ratios[0] * n)
    b = a + round(ratios[1] * n)
    return {"train": order[:a], "valid": order[a:b], "test": order[b:]}


def random_split(n: int, ratios: Any = None, seed: int = 2024) -> Split:
    """Shuffle with ``numpy.random.default_rng(seed)`` and cut at ``round(r * n)``."""
    return _cut(np.random.default_rng(seed).permutation(n), _ratios(ratios))


def temporal_split(times: np.ndarray, ratios: Any = None) -> Split:
    """Global time order: the earliest rows train, the latest test (ties kept in row order)."""
    return _cut(np.argsort(np.asarray(times), kind="stable"), _ratios(ratios))


def _rank_within(groups: np.ndarray, times: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by (group, time); return the order, each sorted row's rank and its group size."""
    codes = pd.factorize(groups)[0]
    keys = (np.arange(len(codes)), codes) if times is None else (np.arange(len(codes)), np.asarray(times), codes)
    order = np.lexsort(keys)
    sorted_codes = codes[order]
    sizes = np.bincount(codes)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if sizes.size else sizes
    rank = np.arange(len(order)) - first[sorted_codes]
    return order, rank, sizes[sorted_codes]


def user_temporal_split(users: np.ndarray, times: np.ndarray, ratios: Any = None) -> Split:
    """Per user in time order: the first ``r0`` share of each user's rows train, the last test."""
    r = _ratios(ratios)
    order, rank, size = _rank_within(users, times)
    n_train = np.round(r[0] * size)
    n_valid = np.round((r[0] + r[1]) * size)
    return {
        "train": np.sort(order[rank < n_train]),
        "valid": np.sort(order[(rank >= n_train) & (rank < n_valid)]),
        "test": np.sort(order[rank >= n_valid]),
    }


def user_random_split(users: np.ndarray, ratios: Any = None, seed: int = 2024) -> Split:
    """Per user in a random order: each user's rows are cut by ``ratios`` (RecBole's default
    ``RS`` split with ``group_by: user``), so every user with enough rows appears in train."""
    shuffled_rank = np.random.default_rng(seed).permutation(len(users))
    return user_temporal_split(users, shuffled_rank, ratios)


def leave_last_out(users: np.ndarray, times: np.ndarray | None = None, num_valid: int = 1) -> Split:
    """Each user's last row is test and the ``num_valid`` before it valid (users with >= 3 rows)."""
    order, rank, size = _rank_within(users, times)
    from_end = size - 1 - rank
    test = (from_end == 0) & (size >= 2)
    valid = (from_end >= 1) & (from_end <= num_valid) & (size >= num_valid + 2)
    return {"train": np.sort(order[~test & ~valid]), "valid": np.sort(order[valid]), "test": np.sort(order[test])}


def cold_split(keys: np.ndarray, cold_fraction: float = 0.2, valid_fraction: float = 0.1, seed: int = 2024,
               valid: str = "random") -> Split:
    """Hold out a random ``cold_fraction`` of the distinct keys (items or users) for test.

    Test holds every row of a cold key (row order). ``valid: random`` (the shared task's
    rule) shuffles the warm rows with ``seed + 1`` and cuts them into train / valid by
    ``valid_fraction``: valid then holds no cold key, so it cannot judge any cold-start
    choice. ``valid: cold`` instead holds out a random ``valid_fraction`` of the warm *keys*
    (drawn with ``seed + 1``): valid is every row of those keys, which train never sees, so
    valid is cold exactly like test and every cold-start choice (id dropout, text) can be
    made on it; the test rows are the same as with ``valid: random``. No test key occurs in
    train or valid.
    """
    if not 0 < cold_fraction < 1 or not 0 <= valid_fraction < 1:
        raise ConfigError("cold split needs 0 < cold_fraction < 1 and 0 <= valid_fraction < 1", fix="e.g. cold_fraction: 0.2, valid_fraction: 0.1")
    if valid not in COLD_VALID:
        raise ConfigError(f"cold split valid '{valid}' is unknown", fix="use valid: cold (cold-valid keys) or valid: random")
    keys = np.asarray(keys)
    uniq = np.unique(keys)
    shuffled = np.random.default_rng(seed).permutation(uniq)
    cold = shuffled[len(uniq) - round(cold_fraction * len(uniq)):]
    is_cold = np.isin(keys, cold)
    test = np.flatnonzero(is_cold)
    warm = np.flatnonzero(~is_cold)
    if valid == "cold":
        warm_keys = np.random.default_rng(seed + 1).permutation(shuffled[:len(uniq) - len(cold)])
        valid_keys = warm_keys[len(warm_keys) - round(valid_fraction * len(warm_keys)):]
        in_valid = np.isin(keys[warm], valid_keys)
        return {"train": warm[~in_valid], "valid": warm[in_valid], "test": test}
    p = np.random.default_rng(seed + 1).permutation(len(warm))
    n_train = round((1 - valid_fraction) * len(warm))
    return {"train": warm[p[:n_train]], "valid": warm[p[n_train:]], "test": test}


def split_frame(frame: pd.DataFrame, cfg: dict[str, Any] | None, user_key: str | None, item_key: str | None, time_key: str | None) -> Split:
    """Apply the config's ``split`` section to one frame of all interactions."""
    cfg = dict(cfg or {})
    method = cfg.pop("method", "random")
    seed = int(cfg.pop("seed", 2024))

    def need(key: str | None, what: str) -> np.ndarray:
        if key is None or key not in frame.columns:
            raise DataError(f"split method '{method}' needs a {what} column, and this dataset has none", fix="pick another split method or set the recipe's key param")
        return frame[key].to_numpy()

    allowed = {
        "random": {"ratios"}, "user_random": {"ratios"}, "temporal": {"ratios"}, "user_temporal": {"ratios"},
        "leave_last_out": {"num_valid"}, "cold_item": {"cold_fraction", "valid_fraction", "valid"},
        "cold_user": {"cold_fraction", "valid_fraction", "valid"}, "presplit": set(),
    }
    if method not in allowed:
        raise unknown_name("split method", str(method), METHODS, fix=f"use one of {', '.join(METHODS)}")
    for key in cfg:
        if key not in allowed[method]:
            raise unknown_name(f"key of split method '{method}'", key, allowed[method], fix="fix the split section")
    if method == "random":
        return random_split(len(frame), cfg.get("ratios"), seed)
    if method == "user_random":
        return user_random_split(need(user_key, "user"), cfg.get("ratios"), seed)
    if method == "temporal":
        return temporal_split(need(time_key, "time"), cfg.get("ratios"))
    if method == "user_temporal":
        return user_temporal_split(need(user_key, "user"), need(time_key, "time"), cfg.get("ratios"))
    if method == "leave_last_out":
        times = frame[time_key].to_numpy() if time_key and time_key in frame.columns else None
        return leave_last_out(need(user_key, "user"), times, int(cfg.get("num_valid", 1)))
    if method in ("cold_item", "cold_user"):
        key = need(item_key if method == "cold_item" else user_key, method.split("_")[1])
        return cold_split(key, float(cfg.get("cold_fraction", 0.2)), float(cfg.get("valid_fraction", 0.1)), seed,
                          str(cfg.get("valid", "random")))
    raise DataError("split method 'presplit' needs a recipe that returns train/valid/test files", fix="pass train=, valid=, test= to the files recipe")
