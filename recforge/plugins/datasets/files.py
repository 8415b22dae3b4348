"""``files``: any CSV / TSV / Parquet / JSON-lines files, one file or pre-split train/valid/test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from recforge.core.components import param
from recforge.core.data.readers import read_table, require_columns
from recforge.core.data.recipe import SPLITS, Recipe, RawData, join_meta
from recforge.core.data.schema import FieldSpec
from recforge.core.errors import ConfigError

USER_KEYS = ("user_id", "userId", "user", "uid", "reviewerID")
ITEM_KEYS = ("item_id", "itemId", "movie_id", "movieId", "item", "iid", "asin", "news_id")
TIME_KEYS = ("timestamp", "time", "unixReviewTime", "ts")
LABEL_KEYS = ("label", "click", "clicked", "target", "y")


def _first(frame: pd.DataFrame, explicit: str, choices: tuple[str, ...]) -> str | None:
    if explicit:
        require_columns(frame, [explicit])
        return explicit
    return next((c for c in choices if c in frame.columns), None)


def infer_fields(frame: pd.DataFrame, user_key: str | None, item_key: str | None, time_key: str | None, label_key: str | None, sep: str = "|") -> list[FieldSpec]:
    """Guess a schema: ids and low-cardinality columns categorical, ``a|b`` multi-valued,
    wordy columns text, other numbers numeric; user / item role when a column is constant per
    user / item id. Declared ``data.fields`` override any guess."""
    specs: list[FieldSpec] = []
    role_of: dict[str, str] = {}
    others = [c for c in frame.columns if c not in (user_key, item_key, time_key, label_key)]
    for key, role in ((item_key, "item"), (user_key, "user")):
        if key and others:
            const = frame.groupby(key, sort=False)[others].nunique(dropna=False).max()
            for col in const.index[const.to_numpy() <= 1]:
                role_of.setdefault(col, role)
    if label_key:
        specs.append(FieldSpec(label_key, "label"))
    if user_key:
        specs.append(FieldSpec(user_key, "categorical", role="user"))
    if item_key:
        specs.append(FieldSpec(item_key, "categorical", role="item"))
    for col in others:
        series = frame[col]
        role = role_of.get(col, "context")
        if pd.api.types.is_float_dtype(series.dtype):
            specs.append(FieldSpec(col, "numeric", role=role))
            continue
        if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            kind = "categorical" if series.nunique() <= max(100, len(series) // 100) else "numeric"
            specs.append(FieldSpec(col, kind, role=role))
            continue
        text = series.dropna().astype("string")
        sample = text.drop_duplicates().head(2000)
        if sample.empty:
            continue
        if sample.str.contains(sep, regex=False).mean() > 0.05 and sample.str.count(" ").mean() < 2:
            specs.append(FieldSpec(col, "multi_categorical", role=role, sep=sep))
        elif sample.str.count(" ").mean() >= 1.0 and len(sample) > 50:
            specs.append(FieldSpec(col, "text", role=role))
        else:
            specs.append(FieldSpec(col, "categorical", role=role))
    return specs


class FilesRecipe(Recipe):
    """Your own files: one table, or pre-split train / valid / test tables, any of CSV, TSV,
    Parquet or JSON lines (gzip included).

    Without ``data.fields`` the schema is inferred (see ``infer_fields``); declared fields
    override it field by field, and ``data.features`` keeps only the listed ones. Paths may use
    ``${RECFORGE_TASKS_DIR}`` and ``${RECFORGE_DATA_DIR}``.

    Args:
        path: one file holding every row (split by ``data.split``).
        train: pre-split training file (use with ``valid`` and ``test`` instead of ``path``).
        valid: pre-split validation file.
        test: pre-split test file.
        format: csv, tsv, parquet or jsonl ('' = from the file name).
        sep: CSV separator ('' = sniffed).
        user_key: user id column ('' = guess from common names).
        item_key: item id column ('' = guess).
        time_key: time column ('' = guess; not a feature).
        label_key: label column ('' = guess).
        item_meta: optional file with one row per item (joined onto the rows by item id).
        missing_meta: what to do with rows whose item has no metadata.

    Example:
        data:
          recipe: files
          params: {train: ${RECFORGE_TASKS_DIR}/ml100k-ctr/train.csv, valid: ..., test: ...}
    """

    name = "files"

    @dataclass
    class Params:
        path: str = param("", "one file holding every row")
        train: str = param("", "pre-split training file")
        valid: str = param("", "pre-split validation file")
        test: str = param("", "pre-split test file")
        format: str = param("", "csv, tsv, parquet or jsonl ('' = from the name)")
        sep: str = param("", "CSV separator ('' = sniffed)")
        user_key: str = param("", "user id column ('' = guess)")
        item_key: str = param("", "item id column ('' = guess)")
        time_key: str = param("", "time column ('' = guess)")
        label_key: str = param("", "label column ('' = guess)")
        item_meta: str = param("", "file with one row per item, joined by item id")
        missing_meta: Literal["error", "drop", "keep"] = param("error", "rows whose item has no metadata")

    def _paths(self, params: FilesRecipe.Params) -> dict[str, Path]:
        if params.path and (params.train or params.valid or params.test):
            raise ConfigError("files recipe: give either path or train/valid/test, not both", fix="drop one of them")
        if params.path:
            return {"all": Path(params.path)}
        if not (params.train and params.valid and params.test):
            raise ConfigError("files recipe needs path, or all of train, valid and test", fix="e.g. --set train=a.csv --set valid=b.csv --set test=c.csv")
        return {s: Path(getattr(params, s)) for s in SPLITS}

    def raw_files(self, params: FilesRecipe.Params) -> list[Path]:
        files = list(self._paths(params).values()) + ([Path(params.item_meta)] if params.item_meta else [])
        for f in files:
            if not f.is_file():
                read_table(f)  # raises the one-line "file not found"
        return files

    def load(self, params: FilesRecipe.Params) -> RawData:
        paths = self._paths(params)
        frames = {name: read_table(p, format=params.format or None, sep=params.sep or None, flat=True)
                  for name, p in paths.items()}
        first = next(iter(frames.values()))
        user_key = _first(first, params.user_key, USER_KEYS)
        item_key = _first(first, params.item_key, ITEM_KEYS)
        time_key = _first(first, params.time_key, TIME_KEYS)
        label_key = _first(first, params.label_key, LABEL_KEYS)
        for name, frame in frames.items():
            require_columns(frame, list(first.columns), paths[name])
        meta = None
        if params.item_meta:
            if item_key is None:
                raise ConfigError("item_meta needs an item id column", fix="set item_key")
            meta_frame = read_table(params.item_meta, flat=True)
            require_columns(meta_frame, [item_key], params.item_meta)
            meta = meta_frame.drop_duplicates(item_key).set_index(item_key)
            frames = {n: join_meta(f, meta, item_key, "item", paths[n], params.missing_meta) for n, f in frames.items()}
            first = next(iter(frames.values()))
        fields = infer_fields(first, user_key, item_key, time_key, label_key)
        return RawData(frames, fields, user_key, item_key, time_key, meta, None, self.raw_files(params), {n: str(p) for n, p in paths.items()})
