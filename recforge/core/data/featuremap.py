"""FeatureMap: fitted on the training split, turns raw frames into TensorTables; saved as JSON.

What is fitted (train rows only, so validation and test never leak into the features):

* vocabularies (``categorical``, ``multi_categorical``, ``sequence``): values seen at least
  ``min_count`` times, most frequent first, from index 2 (0 = padding, 1 = unknown); fields
  with ``vocab_from`` share one vocabulary counted over all of them; ``hash_buckets > 0``
  replaces the vocabulary by a stable hash, for vocabularies too big to hold;
* numeric statistics (mean/std, min/max) or quantile bucket edges;
* lengths ``max_len`` of multi-valued and sequence fields (longest train row unless declared);
* the distinct texts of text fields. Texts carry no label, so texts first seen at transform
  time are appended rather than mapped to unknown: cold-start items need their own text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from recforge.core.data.columns import (
    as_keys,
    expand,
    numbers,
    render_template,
    require_flat,
    row_number,
    template_columns,
    where,
)
from recforge.core.data.keys import (
    FactorizedKeys,
    FactorizedTokens,
    IntVocab,
    factorize_keys,
    factorize_tokens,
    token_counts,
)
from recforge.core.data.schema import (
    FIRST,
    PAD,
    RAGGED_KINDS,
    UNK,
    VOCAB_KINDS,
    FieldInfo,
    FieldSpec,
    field_info_from_dict,
    field_info_to_dict,
    field_spec_from_dict,
)
from recforge.core.data.table import TensorTable
from recforge.core.errors import DataError, unknown_name

FORMAT_VERSION = 1


def _column(spec: FieldSpec) -> str:
    return spec.source or spec.name


def _hash(keys: np.ndarray, buckets: int) -> np.ndarray:
    hashed = pd.util.hash_array(np.asarray(keys, dtype=object), categorize=False)
    return (hashed % np.uint64(buckets)).astype(np.int64) + FIRST


class FeatureMap:
    """Fitted feature processing for every field of a dataset.

    Args:
        fields: fitted :class:`FieldInfo` per field name (label included).
        vocabs: vocabulary per ``vocab_key``: raw keys in index order starting at index 2.
        stats: per-field numeric state (``mean``, ``std``, ``min``, ``max``, ``edges``).

    Example:
        >>> fm = FeatureMap.fit(frame, [FieldSpec("user_id", "categorical", role="user")])  # doctest: +SKIP
        >>> table = fm.transform(frame)  # doctest: +SKIP
    """

    def __init__(self, fields: dict[str, FieldInfo], vocabs: dict[str, list[str]], stats: dict[str, dict[str, Any]]) -> None:
        self.fields = fields
        self.vocabs = vocabs
        self.stats = stats
        self._index_cache: dict[str, pd.Index] = {}
        self._int_cache: dict[str, tuple[int, IntVocab]] = {}

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, frame: pd.DataFrame, specs: list[FieldSpec], source: Any = None) -> FeatureMap:
        """Fit on the training frame. ``source`` names the file in error messages."""
        return cls.fit_transform(frame, specs, source)[0]

    @classmethod
    def fit_transform(cls, frame: pd.DataFrame, specs: list[FieldSpec], source: Any = None) -> tuple[FeatureMap, TensorTable]:
        """Fit on ``frame`` and return its table too (one pass instead of fit + transform)."""
        specs = [field_spec_from_dict(s) for s in specs]
        by_name = {s.name: s for s in specs}
        source = source or frame.attrs.get("source")
        for spec in specs:
            cols = template_columns(spec.template) if spec.kind == "text" and spec.template else [_column(spec)]
            for col in cols:
                if col not in frame.columns:
                    have = ", ".join(map(str, list(frame.columns)[:30]))
                    raise DataError(f"{where(col, source)} (declared for field '{spec.name}') is missing; columns: {have}", fix="fix the field declaration or the file")
                require_flat(frame[col], col, source)
            if spec.vocab_from and spec.vocab_from not in by_name:
                raise unknown_name(f"vocab_from field of '{spec.name}'", spec.vocab_from, by_name, fix="name a declared field")
        if len(frame) == 0:
            raise DataError(f"the training split{' of ' + str(source) if source else ''} is empty", fix="check the split ratios and the input files")

        fields: dict[str, FieldInfo] = {}
        stats: dict[str, dict[str, Any]] = {}
        key_of = {s.name: cls._vocab_key(s, by_name) for s in specs}
        # count every vocabulary over all fields that share it
        counts: dict[str, pd.Series] = {}
        longest: dict[str, int] = {}
        factorized: dict[str, FactorizedKeys | FactorizedTokens] = {}  # reused by the transform below
        for spec in specs:
            if spec.kind not in VOCAB_KINDS:
                continue
            col = frame[_column(spec)]
            if spec.kind == "categorical":
                keys = factorized[spec.name] = factorize_keys(col)
                vc = keys.counts()
            else:
                tokens = factorized[spec.name] = factorize_tokens(col, spec.sep)
                vc, longest[spec.name] = token_counts(tokens)
            if spec.hash_buckets:
                continue
            key = key_of[spec.name]
            counts[key] = vc if key not in counts else counts[key].add(vc, fill_value=0)
        vocabs: dict[str, list[str]] = {}
        for key, vc in counts.items():
            owner = by_name.get(key)
            min_count = owner.min_count if owner is not None else 1
            kept = vc[vc >= min_count]
            order = np.lexsort((kept.index.to_numpy(dtype=str), -kept.to_numpy()))
            vocabs[key] = list(map(str, kept.index.to_numpy(dtype=object)[order]))

        for spec in specs:
            info = FieldInfo(name=spec.name, kind=spec.kind, role=spec.role, spec=spec)
            if spec.kind in VOCAB_KINDS:
                info.vocab_key = key_of[spec.name]
                owner = by_name[info.vocab_key]
                info.vocab_size = FIRST + (owner.hash_buckets if owner.hash_buckets else len(vocabs[info.vocab_key]))
                if spec.kind in RAGGED_KINDS:
                    info.max_len = spec.max_len or max(1, longest.get(spec.name, 1))
            elif spec.kind == "numeric":
                values = numbers(frame[_column(spec)], _column(spec), source)
                stats[spec.name] = cls._fit_numeric(spec, values)
                if spec.buckets:
                    info.num_buckets = len(stats[spec.name]["edges"]) + 1
                    info.vocab_size = FIRST + info.num_buckets
                    info.vocab_key = spec.name
            elif spec.kind == "text":
                info.texts = ["", ""]
                info.text_template = spec.template
                info.vocab_size = 2
            elif spec.kind == "vector":
                info.vector_dim = spec.dim
            fields[spec.name] = info
        fm = cls(fields, vocabs, stats)
        return fm, fm._transform(frame, source, factorized)  # registers train texts, vector dims

    @staticmethod
    def _vocab_key(spec: FieldSpec, by_name: dict[str, FieldSpec]) -> str:
        seen = {spec.name}
        while spec.vocab_from:
            spec = by_name[spec.vocab_from]
            if spec.name in seen:
                break
            seen.add(spec.name)
        return spec.name

    @staticmethod
    def _fit_numeric(spec: FieldSpec, values: np.ndarray) -> dict[str, Any]:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return {"mean": 0.0, "std": 1.0, "min": 0.0, "max": 1.0, "edges": []}
        x = np.sign(finite) * np.log1p(np.abs(finite)) if spec.normalize == "log" else finite
        state: dict[str, Any] = {
            "mean": float(x.mean()),
            "std": float(x.std()) or 1.0,
            "min": float(x.min()),
            "max": float(x.max()),
            "fill": float(np.median(finite)),
            "edges": [],
        }
        if spec.buckets:
            qs = np.quantile(finite, np.linspace(0, 1, spec.buckets + 1)[1:-1])
            state["edges"] = [float(e) for e in np.unique(qs)]
        return state

    # ------------------------------------------------------------------ transform
    def transform(self, frame: pd.DataFrame, source: Any = None, scoring: bool = False,
                  reads: set[str] | None = None) -> TensorTable:
        """Index a raw frame into a TensorTable (unknown values -> 1; unseen texts appended).

        ``scoring``: the rows are only to be scored (``recforge predict``, ``POST /predict``), so
        a missing label column is not an error: nothing reads it, and it is filled with 0. So is
        the column of any field outside ``reads`` (the fields the model reads, when known), filled
        with missing values: a title kept for display need not be sent to score a row.
        """
        if scoring:
            unread = {name for name, info in self.fields.items()
                      if info.role == "label" or (reads is not None and name not in reads)}
            needed = {col for name in self.fields if name not in unread for col in self._raw_columns(name)}
            fills: dict[str, Any] = {}
            for name in unread:
                info = self.fields[name]
                fill = 0 if info.role == "label" else np.nan if info.kind == "numeric" else ""
                fills.update({col: fill for col in self._raw_columns(name)
                              if col not in frame.columns and col not in needed})
            if fills:
                frame = frame.assign(**fills)
        return self._transform(frame, source, {})

    def _raw_columns(self, name: str) -> list[str]:
        """The raw columns field ``name`` is built from (a text template's, or its source column)."""
        info = self.fields[name]
        spec = info.spec or FieldSpec(name, info.kind, info.role)
        return template_columns(spec.template) if info.kind == "text" and spec.template else [_column(spec)]

    def _transform(self, frame: pd.DataFrame, source: Any, factorized: dict[str, Any]) -> TensorTable:
        source = source or frame.attrs.get("source")
        dense: dict[str, torch.Tensor] = {}
        ragged: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        max_len: dict[str, int] = {}
        for name, info in self.fields.items():
            spec = info.spec or FieldSpec(name, info.kind, info.role)
            if info.kind == "text":
                dense[name] = torch.from_numpy(self._text_indices(info, frame, source))
                continue
            col = _column(spec)
            if col not in frame.columns:
                raise DataError(f"{where(col, source)} (field '{name}') is missing", fix="add the column or drop the field from the schema")
            series = frame[col]
            require_flat(series, col, source)
            if info.kind == "categorical":
                keys = factorized.pop(name, None) or factorize_keys(series)  # pop: free codes as we go
                dense[name] = torch.from_numpy(self._lookup_factorized(info, keys))
            elif info.kind in RAGGED_KINDS:
                ragged[name] = self._ragged(info, factorized.pop(name, None) or factorize_tokens(series, spec.sep))
                max_len[name] = info.max_len
            elif info.kind == "numeric":
                dense[name] = torch.from_numpy(self._numeric(info, numbers(series, col, source)))
            elif info.kind == "vector":
                dense[name] = torch.from_numpy(self._vectors(info, series, col, source))
            elif info.kind == "label":
                values = numbers(series, col, source)
                bad = np.flatnonzero(~np.isfinite(values))
                if bad.size:
                    raise DataError(f"{where(col, source)} has an empty or NaN label at row {row_number(series, int(bad[0]))}", fix="fill or drop the rows without a label")
                dense[name] = torch.from_numpy(values.astype(np.float32))
        return TensorTable(dense, ragged, max_len)

    def _index(self, key: str) -> pd.Index:
        idx = self._index_cache.get(key)
        if idx is None or len(idx) != len(self.vocabs[key]):
            idx = self._index_cache[key] = pd.Index(self.vocabs[key], dtype=object)
        return idx

    def _int_vocab(self, key: str) -> IntVocab:
        cached = self._int_cache.get(key)
        if cached is None or cached[0] != len(self.vocabs[key]):
            cached = self._int_cache[key] = (len(self.vocabs[key]), IntVocab.build(self.vocabs[key]))
        return cached[1]

    def _lookup_factorized(self, info: FieldInfo, keys: FactorizedKeys) -> np.ndarray:
        """Index per row from factorised keys: one lookup per distinct value, then a gather."""
        owner = self.fields.get(info.vocab_key, info)
        hashed = bool(owner.spec is not None and owner.spec.hash_buckets)
        if keys.ints is not None and not hashed:
            pos = self._int_vocab(info.vocab_key).find(keys.ints)
            per_unique = np.where(pos >= 0, pos + FIRST, UNK).astype(np.int64)
        else:
            per_unique = self._lookup(info, keys.keys())
        missing = self._lookup(info, np.array([""], dtype=object))
        return np.concatenate([per_unique, missing])[keys.codes]  # code -1 -> the missing value's index

    def _lookup(self, info: FieldInfo, keys: np.ndarray) -> np.ndarray:
        owner = self.fields.get(info.vocab_key, info)
        buckets = owner.spec.hash_buckets if owner.spec is not None else 0
        if buckets:
            return _hash(keys, buckets)
        pos = self._index(info.vocab_key).get_indexer(pd.Index(keys, dtype=object))
        return np.where(pos >= 0, pos + FIRST, UNK).astype(np.int64)

    def _ragged(self, info: FieldInfo, tokens: FactorizedTokens) -> tuple[torch.Tensor, torch.Tensor]:
        """Values + offsets; truncation to ``max_len`` happens per distinct value, before expanding."""
        token_index = self._lookup(info, tokens.token_keys)[tokens.token_codes]
        counts, L = tokens.counts, info.max_len
        if counts.size and int(counts.max()) > L:
            starts = np.zeros(counts.size, dtype=np.int64)
            np.cumsum(counts[:-1], out=starts[1:])
            owner = np.repeat(np.arange(counts.size), counts)
            rank = np.arange(token_index.size) - starts[owner]
            # sequences keep the most recent L, multi-valued fields the first L
            keep = rank >= (counts[owner] - L) if info.kind == "sequence" else rank < L
            token_index, counts = token_index[keep], np.minimum(counts, L)
        idx, row_counts = expand(tokens.codes, token_index, counts)
        offsets = np.zeros(row_counts.size + 1, dtype=np.int64)
        np.cumsum(row_counts, out=offsets[1:])
        return torch.from_numpy(np.ascontiguousarray(idx, dtype=np.int64)), torch.from_numpy(offsets)

    def _numeric(self, info: FieldInfo, values: np.ndarray) -> np.ndarray:
        st = self.stats[info.name]
        spec = info.spec
        if info.num_buckets:
            out = np.searchsorted(np.asarray(st["edges"], dtype=np.float64), values, side="right") + FIRST
            return np.where(np.isfinite(values), out, UNK).astype(np.int64)
        x = np.where(np.isfinite(values), values, st.get("fill", 0.0))
        mode = spec.normalize if spec else "standard"
        if mode == "log":
            x = np.sign(x) * np.log1p(np.abs(x))
            x = (x - st["mean"]) / st["std"]
        elif mode == "standard":
            x = (x - st["mean"]) / st["std"]
        elif mode == "minmax":
            span = st["max"] - st["min"]
            x = (x - st["min"]) / span if span else np.zeros_like(x)
        return x.astype(np.float32)

    def _text_indices(self, info: FieldInfo, frame: pd.DataFrame, source: Any) -> np.ndarray:
        spec = info.spec
        if spec is not None and spec.template:
            text = render_template(frame, spec.template, source)
        else:
            col = _column(spec) if spec else info.name
            if col not in frame.columns:
                raise DataError(f"{where(col, source)} (text field '{info.name}') is missing", fix="add the column or declare a template")
            text = render_template(frame, "{" + col + "}", source) if " " not in col and "{" not in col else as_keys(frame[col]).fillna("")
        codes, uniques = pd.factorize(text.to_numpy(dtype=object))
        uniq = np.asarray(uniques, dtype=object)
        known = pd.Index(info.texts[2:], dtype=object)
        pos = known.get_indexer(pd.Index(uniq, dtype=object)) if len(known) else np.full(len(uniq), -1)
        new = (pos < 0) & (uniq != "")
        start = len(info.texts)
        info.texts.extend(str(t) for t in uniq[new])
        mapped = np.where(uniq == "", PAD, pos + FIRST)
        mapped[new] = start + np.arange(int(new.sum()))
        info.vocab_size = len(info.texts)
        return mapped[codes].astype(np.int64) if codes.size else np.zeros(0, np.int64)

    def _vectors(self, info: FieldInfo, series: pd.Series, col: str, source: Any) -> np.ndarray:
        n = len(series)
        if n == 0:
            return np.zeros((0, info.vector_dim), np.float32)
        s = series.reset_index(drop=True)
        if s.dtype == object and isinstance(s.dropna().iloc[0] if s.notna().any() else None, (list, tuple, np.ndarray)):
            lists = s.map(lambda v: v if isinstance(v, (list, tuple, np.ndarray)) else [])
        else:
            text = as_keys(s).fillna("").str.replace(r"[\[\]]", "", regex=True).str.strip()
            sep = info.spec.sep if info.spec and info.spec.sep else r"[,\s]+"
            lists = text.str.split(sep, regex=sep.startswith("[")).map(lambda v: [x for x in v if x])
        lens = lists.map(len).to_numpy()
        dim = info.vector_dim or int(lens.max())
        bad = np.flatnonzero((lens != dim) & (lens != 0))
        if bad.size:
            raise DataError(f"{where(col, source)} row {int(bad[0]) + 1} has a vector of length {int(lens[bad[0]])}, expected {dim}", fix="give every row a vector of the same length")
        info.vector_dim = dim
        out = np.zeros((n, dim), dtype=np.float32)
        full = lens == dim
        if full.any():
            try:
                out[full] = np.asarray([np.asarray(v, dtype=np.float32) for v in lists[full]], dtype=np.float32)
            except (ValueError, TypeError) as err:
                raise DataError(f"{where(col, source)} holds a vector that is not numeric ({str(err)[:60]})", fix="store plain float lists") from None
        return out

    # ------------------------------------------------------------------ raw <-> index
    def index_of(self, field: str, raw_values: Any) -> torch.Tensor:
        """Indices of raw values of a categorical / multi / sequence field (unknown -> 1)."""
        info = self._field(field)
        keys = as_keys(pd.Series(list(raw_values) if not isinstance(raw_values, pd.Series) else raw_values)).fillna("").to_numpy(dtype=object)
        if info.kind == "text":
            lookup = {t: i for i, t in enumerate(info.texts) if i >= FIRST}
            return torch.tensor([lookup.get(k, PAD if k == "" else UNK) for k in keys], dtype=torch.long)
        if info.kind not in VOCAB_KINDS:
            raise DataError(f"field '{field}' is {info.kind}; it has no vocabulary", fix="use index_of on categorical, sequence or text fields")
        return torch.from_numpy(self._lookup(info, keys))

    def raw_of(self, field: str, indices: Any) -> list[Any]:
        """Raw values of indices (None for padding / unknown / hashed buckets)."""
        info = self._field(field)
        idx = torch.as_tensor(indices).reshape(-1).tolist()
        if info.kind == "text":
            return [info.texts[i] if FIRST <= i < len(info.texts) else None for i in idx]
        if info.kind not in VOCAB_KINDS:
            raise DataError(f"field '{field}' is {info.kind}; it has no vocabulary", fix="use raw_of on categorical, sequence or text fields")
        vocab = self.vocabs.get(info.vocab_key, [])
        return [vocab[i - FIRST] if FIRST <= i < FIRST + len(vocab) else None for i in idx]

    def _field(self, field: str) -> FieldInfo:
        if field not in self.fields:
            raise unknown_name("field", field, self.fields, fix="see the data schema (`recforge data show`)")
        return self.fields[field]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "fields": {name: field_info_to_dict(info) for name, info in self.fields.items()},
            "vocabs": self.vocabs,
            "stats": self.stats,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureMap:
        """Rebuild from :meth:`to_dict` output; any other shape is a one-line DataError."""
        fix = "re-save it from the prepared data (recforge data prepare / recforge train)"
        if not isinstance(data, dict):
            raise DataError(f"feature map is a JSON {type(data).__name__}, not an object", fix=fix)
        if data.get("format") != FORMAT_VERSION:
            raise DataError(f"feature map format {data.get('format')!r} is not {FORMAT_VERSION}", fix="re-prepare the data with this recforge version")
        raw_fields, raw_vocabs, stats = data.get("fields"), data.get("vocabs"), data.get("stats", {})
        if not isinstance(raw_fields, dict) or not isinstance(raw_vocabs, dict) or not isinstance(stats, dict):
            raise DataError("feature map lacks its 'fields', 'vocabs' or 'stats' mappings", fix=fix)
        try:
            fields = {name: field_info_from_dict(d) for name, d in raw_fields.items()}
            vocabs = {k: list(v) for k, v in raw_vocabs.items()}
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise DataError(f"feature map has a malformed field entry ({type(err).__name__}: {err})", fix=fix) from None
        return cls(fields, vocabs, stats)

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (temp file + rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:  # a full disk: leave no half-written temporary file behind
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> FeatureMap:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"feature map not found: {path}", fix="check the model or cache folder") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"feature map {path} is not valid JSON ({err.__class__.__name__})", fix="re-save it from the prepared data") from None
        return cls.from_dict(data)

    def summary(self) -> list[dict[str, Any]]:
        """One row per field for CLI tables: name, kind, role, vocab size, length."""
        return [
            {"name": i.name, "kind": i.kind, "role": i.role, "vocab_size": i.vocab_size, "max_len": i.max_len or (i.vector_dim or None)}
            for i in self.fields.values()
        ]
