"""Fast key paths (factorise first, integer lookups, Arrow splitting) equal the slow references.

Each reference is the straightforward per-row computation the fast path replaced: canonical
string keys per row (``as_keys``), per-row ``str.split``, and a vocabulary built by counting
those strings. Random data includes unknown values, ``min_count`` cut-offs, missing values,
stray whitespace, empty tokens and ids typed differently between train and test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recforge.core.data.columns import as_keys, tokens
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.keys import (
    IntVocab,
    factorize_keys,
    factorize_tokens,
    split_strings,
    token_counts,
)
from recforge.core.data.schema import FIRST, UNK, FieldSpec


def _columns(rng: np.random.Generator, n: int) -> dict[str, pd.Series]:
    ints = rng.integers(-50, 400, n)
    with_nan = ints.astype(float)
    with_nan[rng.random(n) < 0.1] = np.nan
    words = np.array(["a", " a", "b ", "", "  ", "ccc", "24", "24.0", "007"], dtype=object)
    strs = words[rng.integers(0, len(words), n)].copy()
    strs[rng.random(n) < 0.1] = None
    mixed = np.array([24, 24.0, "24", "x", None, 3.5, True], dtype=object)[rng.integers(0, 7, n)]
    nullable = pd.array(ints, dtype="Int64")
    nullable[rng.random(n) < 0.1] = pd.NA
    return {
        "int64": pd.Series(ints),
        "float_integral_nan": pd.Series(with_nan),
        "float_fraction": pd.Series(np.round(rng.normal(size=n), 1)),
        "object_strings": pd.Series(strs, dtype=object),
        "str_dtype": pd.Series(strs, dtype="string"),
        "object_mixed": pd.Series(mixed, dtype=object),
        "nullable_int": pd.Series(nullable),
        "bool": pd.Series(rng.random(n) < 0.5),
        "uint64_big": pd.Series(np.array([2**63 + 5, 3, 3], dtype=np.uint64)[rng.integers(0, 3, n)]),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_factorized_keys_equal_per_row_canonical_strings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, series in _columns(rng, 500).items():
        reference = as_keys(series).fillna("").to_numpy(dtype=object)
        fk = factorize_keys(series)
        keys = np.append(fk.keys(), "")[fk.codes]
        assert keys.tolist() == reference.tolist(), name
        expected = pd.Series(reference).value_counts()
        got = fk.counts()
        assert got.index.is_unique, name
        assert got.sort_index().to_dict() == expected.sort_index().to_dict(), name


def test_integer_columns_take_the_integer_path() -> None:
    assert factorize_keys(pd.Series([3, 1, 3])).ints is not None
    assert factorize_keys(pd.Series([3.0, np.nan, 1.0])).ints is not None
    assert factorize_keys(pd.Series(["3", "1"])).ints is None


def test_int_vocab_matches_only_canonical_integer_keys() -> None:
    vocab = ["7", "07", "-0", "7.0", " 8", "0", "-12", "x", "", str(2**63), str(-(2**63)), "12345678901234567890"]
    iv = IntVocab.build(vocab)
    found = iv.find(np.array([7, 0, -12, 8, -(2**63), 99], dtype=np.int64))
    assert found.tolist() == [0, 5, 6, -1, 10, -1]


def _reference_vocab(train_keys: list[np.ndarray], min_count: int) -> dict[str, int]:
    counts = pd.Series(np.concatenate(train_keys)).value_counts()
    kept = sorted((k for k, c in counts.items() if c >= min_count), key=lambda k: (-counts[k], k))
    return {k: i + FIRST for i, k in enumerate(kept)}


@pytest.mark.parametrize(("seed", "min_count"), [(0, 1), (1, 3), (2, 8)])
def test_categorical_transform_equals_reference(seed: int, min_count: int) -> None:
    rng = np.random.default_rng(seed)
    cols = {k: v for k, v in _columns(rng, 800).items() if k != "uint64_big"}
    frame = pd.DataFrame({"label": rng.integers(0, 2, 800), **cols})
    train, test = frame.iloc[:500], frame.iloc[500:].reset_index(drop=True)
    specs = [FieldSpec("label", "label"), *[FieldSpec(c, "categorical", min_count=min_count) for c in cols]]
    fm, train_table = FeatureMap.fit_transform(train, specs)
    test_table = fm.transform(test)
    for col in cols:
        vocab = _reference_vocab([as_keys(train[col]).fillna("").to_numpy(dtype=object)], min_count)
        assert fm.vocabs[col] == list(vocab), col
        for part, table in ((train, train_table), (test, test_table)):
            keys = as_keys(part[col]).fillna("").to_numpy(dtype=object)
            expected = [vocab.get(k, UNK) for k in keys]
            assert table.dense[col].tolist() == expected, col


def test_ids_typed_differently_at_transform_land_on_the_same_index() -> None:
    train = pd.DataFrame({"label": [1, 0, 1], "item": [24, 7, 24]})
    fm = FeatureMap.fit(train, [FieldSpec("label", "label"), FieldSpec("item", "categorical")])
    for test_col in ([24.0, 7.0, 5.0], ["24", "7", "5"], pd.array([24, 7, 5], dtype="Int64")):
        test = pd.DataFrame({"label": [0, 0, 0], "item": test_col})
        assert fm.transform(test).dense["item"].tolist() == [2, 3, UNK]


def test_shared_vocabulary_counts_over_all_fields() -> None:
    train = pd.DataFrame({"label": [1, 0, 1], "item": [5, 6, 5], "hist": ["6 6 9", "", "5"]})
    specs = [FieldSpec("label", "label"), FieldSpec("item", "categorical"), FieldSpec("hist", "sequence", sep=" ", vocab_from="item")]
    fm = FeatureMap.fit(train, specs)
    assert fm.vocabs["item"] == ["5", "6", "9"]  # 5 and 6 three times each (tie -> key order), 9 once


def _random_multi(rng: np.random.Generator, n: int, sep: str) -> pd.Series:
    words = ["a", "b", " c", "d ", "", "a b", "10", "7"]
    rows = []
    for _ in range(n):
        k = int(rng.integers(0, 6))
        rows.append(None if rng.random() < 0.08 else sep.join(words[int(i)] for i in rng.integers(0, len(words), k)))
    return pd.Series(rows, dtype=object)


def test_split_strings_known_answer() -> None:
    counts, codes, keys = split_strings(np.array(["a|b", " c |", "", "b||a"], dtype=object), "|")
    assert counts.tolist() == [2, 1, 0, 2]
    assert keys[codes].tolist() == ["a", "b", "c", "b", "a"]


@pytest.mark.parametrize("dtype", ["object", "string"])
@pytest.mark.parametrize("sep", ["|", " ", ", ", ";;", "||", None])
def test_factorized_tokens_equal_reference_split(sep: str | None, dtype: str) -> None:
    rng = np.random.default_rng(len(sep or ""))
    series = _random_multi(rng, 400, sep or " ").astype(dtype)
    ref_values, ref_counts = tokens(series, sep)
    ft = factorize_tokens(series, sep)
    from recforge.core.data.columns import expand

    values, counts = expand(ft.codes, ft.token_keys[ft.token_codes], ft.counts)
    assert counts.tolist() == ref_counts.tolist()
    assert values.tolist() == ref_values.tolist()
    vc, longest = token_counts(ft)
    assert vc.sort_index().to_dict() == pd.Series(ref_values).value_counts().sort_index().to_dict()
    assert longest == int(ref_counts.max(initial=0))


@pytest.mark.parametrize(("kind", "max_len", "min_count"), [("multi_categorical", 2, 1), ("sequence", 3, 2), ("multi_categorical", 9, 4)])
def test_ragged_transform_equals_row_by_row_reference(kind: str, max_len: int, min_count: int) -> None:
    rng = np.random.default_rng(max_len)
    frame = pd.DataFrame({"label": rng.integers(0, 2, 600), "tags": _random_multi(rng, 600, "|")})
    train, test = frame.iloc[:400], frame.iloc[400:].reset_index(drop=True)
    fm = FeatureMap.fit(train, [FieldSpec("label", "label"), FieldSpec("tags", kind, sep="|", max_len=max_len, min_count=min_count)])

    def row_tokens(value: object) -> list[str]:
        if value is None:
            return []
        return [t.strip() for t in str(value).strip().split("|") if t.strip()]

    train_tokens = [t for v in train["tags"] for t in row_tokens(v)]
    vocab = _reference_vocab([np.asarray(train_tokens, dtype=object)], min_count)
    assert fm.vocabs["tags"] == list(vocab)
    batch = fm.transform(test).batch(torch.arange(len(test)))["tags"]
    for row, value in zip(batch.tolist(), test["tags"]):
        idx = [vocab.get(t, UNK) for t in row_tokens(value)]
        idx = idx[-max_len:] if kind == "sequence" else idx[:max_len]
        assert row == idx + [0] * (max_len - len(idx))


def test_blockwise_expand_equals_row_by_row_reference() -> None:
    from recforge.core.data.columns import expand

    rng = np.random.default_rng(5)
    counts = rng.integers(0, 4, 7)
    values = np.arange(int(counts.sum())) * 10
    per_unique = np.split(values, np.cumsum(counts)[:-1])
    codes = rng.integers(0, 7, 50).astype(np.int32)
    expected = [v for c in codes for v in per_unique[c]]
    for block in (1, 3, 1 << 20):
        out, row_counts = expand(codes, values, counts, block=block)
        assert out.tolist() == expected and row_counts.tolist() == counts[codes].tolist()
