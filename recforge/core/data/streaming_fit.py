"""Fitting a FeatureMap in one streaming pass over chunks of the training split.

The in-memory :meth:`FeatureMap.fit_transform` sees the whole training frame at once. Here
the same fitted state is accumulated chunk by chunk, with memory bounded by the state itself
(the distinct values of each vocabulary and a fixed sample per numeric field), not by the
number of rows:

* vocabularies: per-chunk value counts from the same factorisers the in-memory fit uses
  (:mod:`recforge.core.data.keys`, so keys are canonicalised identically), summed across
  chunks -- integer columns on int64 keys, stringified once at the end -- then kept and
  ordered by the in-memory rule (``min_count``, most frequent first, ties by key);
* numeric mean / std / min / max: exact, merged per chunk (Chan et al.'s parallel variance);
* the numeric fill value (median) and quantile bucket edges: from a uniform reservoir sample
  of :data:`RESERVOIR` finite values per field, exact whenever the field has no more values
  than that (so small data fits exactly as in memory);
* lengths of multi-valued / sequence fields: the longest row seen.

Text and vector fields are fitted by the transform pass itself, as in memory: texts are
registered as the training chunks are transformed, vector lengths from the first rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recforge.core.data.columns import numbers
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.keys import FactorizedKeys, factorize_keys, factorize_tokens, token_counts
from recforge.core.data.schema import (
    FIRST,
    RAGGED_KINDS,
    VOCAB_KINDS,
    FieldInfo,
    FieldSpec,
    field_spec_from_dict,
)
from recforge.core.errors import DataError, unknown_name

#: finite values sampled per numeric field for its median and bucket edges
RESERVOIR = 1 << 20


class KeyCounts:
    """Running occurrences per canonical key: integer keys and string keys kept apart.

    Integer chunks are appended as ``(keys, counts)`` arrays and merged by one hash pass
    (``pd.factorize`` + ``bincount``) whenever the pending part outgrows the merged part, so
    a chunk costs time in its own distinct values, not in the vocabulary so far.
    """

    def __init__(self) -> None:
        self.int_keys: list[np.ndarray] = []
        self.int_counts: list[np.ndarray] = []
        self._merged = 0
        self._pending = 0
        self.strings: list[pd.Series] = []
        self.missing = 0

    def add_keys(self, keys: FactorizedKeys) -> None:
        if keys.ints is None:
            self.add_strings(keys.counts())
            return
        valid = keys.codes[keys.codes >= 0]
        per_unique = np.bincount(valid, minlength=keys.num_uniques)
        used = np.flatnonzero(per_unique)
        self.int_keys.append(keys.ints[used])
        self.int_counts.append(per_unique[used].astype(np.int64))
        self.missing += int(keys.codes.size - valid.size)
        self._pending += used.size
        if self._pending > max(self._merged, 1 << 20):
            self._merge_ints()

    def _merge_ints(self) -> None:
        keys, counts = np.concatenate(self.int_keys), np.concatenate(self.int_counts)
        codes, uniques = pd.factorize(keys)
        self.int_keys = [np.asarray(uniques, dtype=np.int64)]
        self.int_counts = [np.bincount(codes, weights=counts, minlength=len(uniques)).astype(np.int64)]
        self._merged, self._pending = len(uniques), 0

    def add_strings(self, counts: pd.Series) -> None:
        self.strings.append(counts)
        if len(self.strings) > 8:
            self.strings = [pd.concat(self.strings).groupby(level=0, sort=False).sum()]

    def total(self) -> pd.Series:
        """All counts by string key (missing values under ``""``, as the in-memory fit counts them)."""
        parts = list(self.strings)
        if self.int_keys:
            self._merge_ints()
            keys = self.int_keys[0].astype(str).astype(object)
            parts.append(pd.Series(self.int_counts[0], index=pd.Index(keys, dtype=object)))
        if self.missing:
            parts.append(pd.Series([self.missing], index=pd.Index([""], dtype=object), dtype=np.int64))
        if not parts:
            return pd.Series([], dtype=np.int64, index=pd.Index([], dtype=object))
        out = pd.concat(parts) if len(parts) > 1 else parts[0]
        return out.groupby(level=0, sort=False).sum() if len(parts) > 1 else out


@dataclass
class NumericState:
    """Exact mean / M2 / min / max of the (transformed) values, and a reservoir of raw ones."""

    log: bool
    seed: int
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = np.inf
    high: float = -np.inf
    seen: int = 0
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def update(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return
        x = np.sign(finite) * np.log1p(np.abs(finite)) if self.log else finite
        n, mean = x.size, float(x.mean())
        m2 = float(((x - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
        self._sample(finite)

    def _sample(self, finite: np.ndarray) -> None:
        room = RESERVOIR - self.sample.size
        if room > 0:
            self.sample = np.concatenate([self.sample, finite[:room]])
        rest = finite[max(room, 0):]
        if rest.size:  # Algorithm R, vectorised: value t replaces a random slot with prob R / t
            rng = np.random.default_rng(self.seed + self.seen)
            t = self.seen + max(room, 0) + np.arange(1, rest.size + 1)
            slot = (rng.random(rest.size) * t).astype(np.int64)
            hit = slot < RESERVOIR
            self.sample[slot[hit]] = rest[hit]
        self.seen += finite.size

    def state(self, buckets: int) -> dict[str, Any]:
        if self.count == 0:
            return {"mean": 0.0, "std": 1.0, "min": 0.0, "max": 1.0, "edges": []}
        out: dict[str, Any] = {"mean": self.mean, "std": float(np.sqrt(self.m2 / self.count)) or 1.0,
                               "min": self.low, "max": self.high, "fill": float(np.median(self.sample)), "edges": []}
        if buckets:
            qs = np.quantile(self.sample, np.linspace(0, 1, buckets + 1)[1:-1])
            out["edges"] = [float(e) for e in np.unique(qs)]
        return out


class StreamingFit:
    """Accumulates a FeatureMap's fitted state over training chunks (see the module docstring).

    Args:
        specs: the field declarations (as for :meth:`FeatureMap.fit`).

    Example:
        >>> fit = StreamingFit(specs)  # doctest: +SKIP
        >>> for chunk in chunks: fit.update(chunk)  # doctest: +SKIP
        >>> fm = fit.finish()  # doctest: +SKIP
    """

    def __init__(self, specs: list[Any]) -> None:
        self.specs = [field_spec_from_dict(s) for s in specs]
        self.by_name = {s.name: s for s in self.specs}
        for spec in self.specs:
            if spec.vocab_from and spec.vocab_from not in self.by_name:
                raise unknown_name(f"vocab_from field of '{spec.name}'", spec.vocab_from, self.by_name,
                                   fix="name a declared field")
        self.key_of = {s.name: FeatureMap._vocab_key(s, self.by_name) for s in self.specs}
        self.counts: dict[str, KeyCounts] = {}
        self.longest: dict[str, int] = {}
        self.numeric = {s.name: NumericState(s.normalize == "log", seed=i) for i, s in enumerate(self.specs)
                        if s.kind == "numeric"}
        self.rows = 0

    def update(self, frame: pd.DataFrame, source: Any = None) -> None:
        """Add one chunk of training rows."""
        for spec in self.specs:
            if spec.kind in ("text", "vector", "label"):
                continue
            col = spec.source or spec.name
            if col not in frame.columns:
                raise DataError(f"column '{col}' (declared for field '{spec.name}') is missing in {source or 'the data'}",
                                fix="fix the field declaration or the file")
            if spec.kind == "numeric":
                self.numeric[spec.name].update(numbers(frame[col], col, source))
            elif spec.kind in VOCAB_KINDS:
                self._count(spec, frame[col])
        self.rows += len(frame)

    def _count(self, spec: FieldSpec, series: pd.Series) -> None:
        counts = self.counts.setdefault(self.key_of[spec.name], KeyCounts())
        if spec.kind == "categorical":
            keys = factorize_keys(series)
            if not spec.hash_buckets:
                counts.add_keys(keys)
            return
        vc, longest = token_counts(factorize_tokens(series, spec.sep))
        self.longest[spec.name] = max(self.longest.get(spec.name, 0), longest)
        if not spec.hash_buckets:
            counts.add_strings(vc)

    def finish(self, source: Any = None) -> FeatureMap:
        """The fitted FeatureMap (texts and vector lengths are filled by the transform pass)."""
        if self.rows == 0:
            raise DataError(f"the training split{' of ' + str(source) if source else ''} is empty",
                            fix="check the split ratios and the input files")
        vocabs: dict[str, list[str]] = {}
        for key, counts in self.counts.items():
            owner = self.by_name.get(key)
            if owner is not None and owner.hash_buckets:
                continue
            vc = counts.total()
            kept = vc[vc >= (owner.min_count if owner is not None else 1)]
            order = np.lexsort((kept.index.to_numpy(dtype=str), -kept.to_numpy()))
            vocabs[key] = list(map(str, kept.index.to_numpy(dtype=object)[order]))
        fields: dict[str, FieldInfo] = {}
        stats: dict[str, dict[str, Any]] = {}
        for spec in self.specs:
            info = FieldInfo(name=spec.name, kind=spec.kind, role=spec.role, spec=spec)
            if spec.kind in VOCAB_KINDS:
                info.vocab_key = self.key_of[spec.name]
                owner = self.by_name[info.vocab_key]
                info.vocab_size = FIRST + (owner.hash_buckets or len(vocabs.get(info.vocab_key, [])))
                if spec.kind in RAGGED_KINDS:
                    info.max_len = spec.max_len or max(1, self.longest.get(spec.name, 1))
            elif spec.kind == "numeric":
                stats[spec.name] = self.numeric[spec.name].state(spec.buckets)
                if spec.buckets:
                    info.num_buckets = len(stats[spec.name]["edges"]) + 1
                    info.vocab_size = FIRST + info.num_buckets
                    info.vocab_key = spec.name
            elif spec.kind == "text":
                info.texts, info.text_template, info.vocab_size = ["", ""], spec.template, 2
            elif spec.kind == "vector":
                info.vector_dim = spec.dim
            fields[spec.name] = info
        return FeatureMap(fields, vocabs, stats)


def fit_streaming(chunks: Iterable[pd.DataFrame], specs: list[Any], source: Any = None) -> FeatureMap:
    """A FeatureMap fitted over ``chunks`` of the training split in one pass."""
    fit = StreamingFit(specs)
    for chunk in chunks:
        fit.update(chunk, source)
    return fit.finish(source)
