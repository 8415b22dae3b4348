"""Fast raw-value -> vocabulary-key work for big columns: factorise first, stringify only uniques.

Vocabularies are keyed by canonical strings (:func:`recforge.core.data.columns.as_keys`), but
turning a 10M-row id column into 10M Python strings just to count or look them up costs far
more than the work itself. Canonicalisation is a per-value function (the one column-wide
decision, "are all finite floats integral?", gives the same answer over the distinct values),
so it is exact to factorise the raw column once (``pd.factorize``, a C hash pass), canonicalise
the distinct values, and gather back through the codes. Integer columns go further: counts
come from ``np.bincount`` and lookups from ``np.searchsorted`` against the vocabulary's integer
keys, so their rows never become strings at all.

Columns whose values could merge under Python equality while their keys differ (object columns
mixing ``24`` and ``24.0``, floats holding ``-0.0``) take the per-row reference path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recforge.core.data.columns import as_keys

_CANONICAL_INT_RE2 = r"^(0|-?[1-9][0-9]*)$"
_INT64 = np.iinfo(np.int64)


def compact_codes(codes: np.ndarray) -> np.ndarray:
    """Codes as int32 when they fit: fit_transform holds them per field between fit and transform."""
    if codes.size and int(codes.max()) < np.iinfo(np.int32).max:
        return codes.astype(np.int32, copy=False)
    return codes.astype(np.int64, copy=False)


@dataclass
class FactorizedKeys:
    """A column as ``codes`` into distinct canonical keys.

    Args:
        codes: int32 (int64 when needed) per row; ``-1`` marks a missing value (key ``""``).
        ints: int64 per distinct value when the column is integral (then ``keys[i] ==
            str(ints[i])``), else None.
        strings: object array of keys per distinct value, when already computed (may hold
            repeats: ``" a"`` and ``"a"`` are distinct raw values with one key).
    """

    codes: np.ndarray
    ints: np.ndarray | None
    strings: np.ndarray | None = None

    @property
    def num_uniques(self) -> int:
        return len(self.ints) if self.ints is not None else len(self.strings)  # type: ignore[arg-type]

    def keys(self, select: np.ndarray | None = None) -> np.ndarray:
        """String keys of the distinct values (only ``select`` of them when given)."""
        if self.strings is not None:
            return self.strings if select is None else self.strings[select]
        ints = self.ints if select is None else self.ints[select]  # type: ignore[index]
        return ints.astype(str).astype(object)

    def counts(self) -> pd.Series:
        """Occurrences per key over all rows (missing values counted under ``""``)."""
        per_unique = np.bincount(self.codes[self.codes >= 0], minlength=self.num_uniques)
        missing = int((self.codes < 0).sum())
        used = np.flatnonzero(per_unique)
        series = pd.Series(per_unique[used], index=pd.Index(self.keys(used), dtype=object), dtype=np.int64)
        if self.ints is None and not series.index.is_unique:
            series = series.groupby(level=0, sort=False).sum()
        if missing:
            extra = pd.Series([missing], index=pd.Index([""], dtype=object), dtype=np.int64)
            has_empty = self.ints is None and bool((series.index.to_numpy(dtype=object) == "").any())
            series = series.add(extra, fill_value=0).astype(np.int64) if has_empty else pd.concat([series, extra])
        return series


def _integral_floats(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(np.array_equal(finite, np.floor(finite)) and np.abs(finite).max(initial=0) < 2**62)


def factorize_keys(series: pd.Series) -> FactorizedKeys:
    """Codes and canonical keys of a column, equal to ``as_keys(series).fillna("")`` per row."""
    dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):  # nullable integers: NA -> code -1
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            uniques = np.asarray(uniques, dtype=object)
        else:
            codes, uniques = pd.factorize(series.to_numpy(), use_na_sentinel=True)
        if uniques.size and (uniques.max() > _INT64.max or uniques.min() < _INT64.min):
            return _reference(series)
        return FactorizedKeys(compact_codes(codes), uniques.astype(np.int64))
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if np.isinf(uniques).any():
            return _reference(series)  # the reference raises or keeps 'inf' exactly as it did
        if _integral_floats(uniques):
            return FactorizedKeys(compact_codes(codes), uniques.astype(np.int64))
        if (uniques == 0).any() and np.signbit(values[values == 0]).any():
            return _reference(series)  # -0.0 and 0.0 share a code but not a key
        return FactorizedKeys(compact_codes(codes), None, _string_keys(uniques, dtype))
    if _plain_strings(series):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return FactorizedKeys(compact_codes(codes), None, _string_keys(np.asarray(uniques, dtype=object), dtype))
    return _reference(series)


def _plain_strings(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.StringDtype) or pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype == object:
        return pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    return False


def _string_keys(uniques: np.ndarray, dtype: object) -> np.ndarray:
    return as_keys(pd.Series(uniques, dtype=dtype)).fillna("").to_numpy(dtype=object)


def _reference(series: pd.Series) -> FactorizedKeys:
    """Per-row canonical strings, then factorised: the slow path every fast one must equal."""
    keys = as_keys(series).fillna("").to_numpy(dtype=object)
    codes, uniques = pd.factorize(keys)
    return FactorizedKeys(compact_codes(codes), None, np.asarray(uniques, dtype=object))


@dataclass
class IntVocab:
    """The integer-valued keys of a string vocabulary, sorted, with their vocabulary positions."""

    sorted_ints: np.ndarray
    positions: np.ndarray

    @classmethod
    def build(cls, vocab: list[str]) -> IntVocab:
        """Pick the keys spelled as ``str(int)`` (``"7"``, not ``"07"``, ``"-0"`` or ``"7.0"``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(vocab, type=pa.large_string())
        canonical = pc.fill_null(pc.match_substring_regex(arr, _CANONICAL_INT_RE2), False)
        short = pc.and_(canonical, pc.less_equal(pc.utf8_length(arr), 18))  # always inside int64
        positions = np.flatnonzero(short.to_numpy(zero_copy_only=False))
        ints = pc.cast(pc.filter(arr, short), pa.int64()).to_numpy(zero_copy_only=False)
        long_ones = np.flatnonzero(pc.and_(canonical, pc.invert(short)).to_numpy(zero_copy_only=False))
        extra = [(int(vocab[p]), p) for p in long_ones if _INT64.min <= int(vocab[p]) <= _INT64.max]
        if extra:
            ints = np.concatenate([ints, np.asarray([v for v, _ in extra], dtype=np.int64)])
            positions = np.concatenate([positions, np.asarray([p for _, p in extra], dtype=np.int64)])
        order = np.argsort(ints, kind="stable")
        return cls(ints.astype(np.int64)[order], positions.astype(np.int64)[order])

    def find(self, values: np.ndarray) -> np.ndarray:
        """Vocabulary position of each value, ``-1`` where absent."""
        if self.sorted_ints.size == 0:
            return np.full(values.shape, -1, dtype=np.int64)
        at = np.searchsorted(self.sorted_ints, values)
        at_clipped = np.minimum(at, self.sorted_ints.size - 1)
        hit = self.sorted_ints[at_clipped] == values
        return np.where(hit, self.positions[at_clipped], -1)


# --------------------------------------------------------------------------- multi-valued columns


@dataclass
class FactorizedTokens:
    """A multi-valued column as codes into distinct raw values, each split into coded tokens.

    Args:
        codes: int32/int64 per row into the distinct values (the last one is the missing value).
        counts: tokens per distinct value (empty tokens dropped).
        token_codes: flat int codes into ``token_keys``, ``counts[u]`` of them per value ``u``.
        token_keys: canonical key per distinct token (may hold repeats after stripping).
    """

    codes: np.ndarray
    counts: np.ndarray
    token_codes: np.ndarray
    token_keys: np.ndarray


def _literal_split_ok(sep: str | None) -> bool:
    """Whether splitting raw strings literally equals the reference (strip, then ``str.split``).

    pandas treats a separator longer than one character as a regex, and stripping the whole
    string before splitting only equals stripping each token when the separator does not start
    or end with whitespace (or is one character long).
    """
    if not sep:
        return False
    return len(sep) == 1 or (re.escape(sep) == sep and sep == sep.strip())


def split_strings(uniques: Any, sep: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Split distinct strings in C (pyarrow ``split_pattern``): ``(counts, token_codes, token_keys)``.

    ``uniques`` is an Arrow string array or a numpy object array of str. Returns None when the
    strings cannot go through Arrow (e.g. lone surrogates); the caller then takes the
    reference path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = uniques if isinstance(uniques, (pa.Array, pa.ChunkedArray)) else pa.array(uniques, type=pa.large_string())
        pieces = pc.split_pattern(arr, pattern=sep)
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    lengths = pc.list_value_length(pieces).to_numpy(zero_copy_only=False).astype(np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(pieces))
    del pieces
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], pa.string()).dictionary_encode()
    raw_codes = encoded.indices.to_numpy(zero_copy_only=False)  # int32, no copy
    keys = as_keys(pd.Series(encoded.dictionary.to_pylist(), dtype=object)).fillna("").to_numpy(dtype=object)
    empty = keys == ""
    if not empty.any():  # the usual case: no empty tokens to drop, so lengths are the counts
        return lengths, raw_codes, keys
    keep = ~empty[raw_codes]
    owner = np.repeat(np.arange(len(lengths), dtype=np.int32 if len(lengths) < 2**31 else np.int64), lengths)
    counts = np.bincount(owner[keep], minlength=len(lengths)).astype(np.int64)
    return counts, raw_codes[keep], keys


def _arrow_factorize(series: pd.Series) -> tuple[np.ndarray, Any] | None:
    """``(codes, Arrow uniques)`` without Python string objects, for Arrow-backed string columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = series.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    arr = pa.array(series)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    encoded = pc.dictionary_encode(arr)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return codes, encoded.dictionary


def factorize_tokens(series: pd.Series, sep: str | None) -> FactorizedTokens:
    """Tokens of each distinct value of a multi-valued column, split once per distinct value.

    Equal to :func:`recforge.core.data.columns.unique_tokens`, with tokens coded instead of
    spelled out; plain-string columns split in C when the separator allows it.
    """
    from recforge.core.data.columns import _is_listlike_column, unique_tokens

    s = series.reset_index(drop=True)
    if sep and _literal_split_ok(sep) and not _is_listlike_column(s) and _plain_strings(s):
        arrow = _arrow_factorize(s)
        if arrow is not None:
            codes, uniques = arrow
        else:
            codes, raw_uniques = pd.factorize(s, use_na_sentinel=True)
            uniques = np.asarray(raw_uniques, dtype=object)
        split = split_strings(uniques, sep)
        if split is not None:
            counts, token_codes, token_keys = split
            counts = np.append(counts, 0)  # the missing value: no tokens
            codes = compact_codes(np.where(codes < 0, len(counts) - 1, codes))
            return FactorizedTokens(codes, counts, token_codes, token_keys)
    codes, values, counts = unique_tokens(s, sep)
    token_codes, token_keys = pd.factorize(values) if len(values) else (np.zeros(0, np.int64), np.zeros(0, object))
    return FactorizedTokens(np.asarray(codes, dtype=np.int64), counts, np.asarray(token_codes, dtype=np.int64), np.asarray(token_keys, dtype=object))


def token_counts(tokens: FactorizedTokens) -> tuple[pd.Series, int]:
    """Rows-weighted occurrences per token key, and the longest used row (as ``columns.token_counts``)."""
    rows_per_unique = np.bincount(tokens.codes, minlength=len(tokens.counts))
    owner = np.repeat(np.arange(len(tokens.counts), dtype=np.int32 if len(tokens.counts) < 2**31 else np.int64), tokens.counts)
    weights = np.bincount(tokens.token_codes, weights=rows_per_unique[owner], minlength=len(tokens.token_keys)).astype(np.int64)
    used = np.flatnonzero(weights)
    vc = pd.Series(weights[used], index=pd.Index(tokens.token_keys[used], dtype=object), dtype=np.int64)
    if not vc.index.is_unique:
        vc = vc.groupby(level=0, sort=False).sum()
    longest = tokens.counts[rows_per_unique > 0]
    return vc[vc > 0], int(longest.max(initial=0))
