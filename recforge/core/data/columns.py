"""Column helpers shared by the FeatureMap and the recipes: raw keys, token lists, numbers, texts.

Raw ids arrive typed differently per file (``24`` in one CSV, ``24.0`` in a file with gaps,
``"24"`` in JSON); vocabularies are keyed by one canonical string form so that the same id
always lands on the same index.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
import pandas as pd

from recforge.core.errors import DataError


def where(column: str, source: Any) -> str:
    """``"column 'x' of file.csv"``: the location part of error messages."""
    return f"column '{column}'" + (f" of {source}" if source else "")


def as_keys(series: pd.Series) -> pd.Series:
    """Canonical string keys (``24.0`` -> ``"24"``); missing values stay ``<NA>``."""
    s = series
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("string")
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(vals)
        if np.array_equal(vals[finite], np.floor(vals[finite])) and np.abs(vals[finite]).max(initial=0) < 2**62:
            s = s.astype("Int64")
    out = s.astype("string")
    return out.str.strip() if not pd.api.types.is_numeric_dtype(series.dtype) else out


def _is_listlike_column(series: pd.Series) -> bool:
    if series.dtype != object:
        return False
    first = series.dropna()
    if first.empty:
        return False
    return isinstance(first.iloc[0], (list, tuple, np.ndarray))


def _split_rows(s: pd.Series, sep: str | None) -> tuple[np.ndarray, np.ndarray]:
    n = len(s)
    if _is_listlike_column(s):
        lists = s.map(lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else ([] if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else [v]))
    else:
        keys = as_keys(s).fillna("")
        lists = keys.str.split(sep) if sep else keys.str.split()
    exploded = lists.explode()
    rows = exploded.index.to_numpy()
    flat = as_keys(exploded.reset_index(drop=True).astype(object)).fillna("")
    flat = flat.str.strip()
    keep = (flat != "").to_numpy()
    values = flat.to_numpy(dtype=object)[keep]
    counts = np.bincount(rows[keep], minlength=n).astype(np.int64) if n else np.zeros(0, np.int64)
    return values, counts


def unique_tokens(series: pd.Series, sep: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokenise each *distinct* value once: ``(codes per row, flat tokens of the uniques, count per unique)``.

    Rows repeat values a lot (a MIND history is shared by every impression of a visit, a
    genre string by every rating of a movie), so splitting the distinct values is far cheaper.
    """
    s = series.reset_index(drop=True)
    if _is_listlike_column(s):
        values, counts = _split_rows(s, sep)
        return np.arange(len(s)), values, counts
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values, counts = _split_rows(pd.Series(uniques, dtype=s.dtype if len(uniques) else object), sep)
    counts = np.append(counts, 0)  # the missing value: no tokens
    codes = np.where(codes < 0, len(counts) - 1, codes)
    return codes, values, counts


def expand(codes: np.ndarray, values: np.ndarray, counts: np.ndarray, block: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Per-unique ragged ``values`` (``counts`` each) repeated for rows ``codes``: one gather.

    The gather positions are built ``block`` rows at a time straight into the output, so the
    temporary index arrays stay small however many rows there are (peak memory at 20M rows).
    """
    starts = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=starts[1:])
    row_counts = counts[codes]
    row_off = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(row_counts, out=row_off[1:])
    out = np.empty(int(row_off[-1]), dtype=values.dtype)
    for lo in range(0, len(codes), block):
        hi = min(lo + block, len(codes))
        a, b = int(row_off[lo]), int(row_off[hi])
        pos = np.repeat(starts[codes[lo:hi]] - (row_off[lo:hi] - a), row_counts[lo:hi])
        pos += np.arange(b - a, dtype=np.int64)
        np.take(values, pos, out=out[a:b])
    return out, row_counts


def tokens(series: pd.Series, sep: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Split a multi-valued column into flat string tokens and per-row counts (empties dropped).

    Values may be strings joined by ``sep`` (``Action|Comedy``) or lists (JSON / Parquet).
    """
    return expand(*unique_tokens(series, sep))


def token_counts(series: pd.Series, sep: str | None) -> tuple[pd.Series, int]:
    """How often each token occurs over all rows, and the longest row (weighted by unique use)."""
    codes, values, counts = unique_tokens(series, sep)
    rows_per_unique = np.bincount(codes, minlength=len(counts))
    owner = np.repeat(np.arange(len(counts)), counts)
    weights = rows_per_unique[owner]
    vc = pd.Series(weights, dtype=np.int64).groupby(pd.Index(values, dtype=object)).sum() if len(values) else pd.Series(dtype=np.int64)
    used = counts[rows_per_unique > 0]
    return vc[vc > 0], int(used.max(initial=0))


def row_number(series: pd.Series, position: int) -> int:
    """1-based data row in the source file: the frame keeps the file's row labels through splits."""
    label = series.index[position]
    return int(label) + 1 if isinstance(label, (int, np.integer)) else position + 1


#: what ``pandas.api.types.infer_dtype`` says of object columns that hold only flat values
_FLAT_KINDS = {"string", "integer", "floating", "mixed-integer-float", "boolean", "empty", "decimal", "bytes"}


def require_flat(series: pd.Series, column: str, source: Any = None) -> None:
    """Refuse nested values (lists, structs, maps from JSON lines or Parquet) in a feature column.

    They used to reach the key factorisation and fail with "unhashable type: 'list'".
    """
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in _FLAT_KINDS:
        return
    nested = series.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray))).to_numpy(dtype=bool)
    if nested.any():
        row = int(np.flatnonzero(nested)[0])
        kind = type(series.iloc[row]).__name__.replace("ndarray", "list")
        raise DataError(
            f"{where(column, source)} holds a nested value (a {kind}) at row {row_number(series, row)}; "
            "features must be flat values (text or numbers)",
            fix="flatten the column, e.g. join a list with '|' and declare the field multi_categorical with sep: '|'",
        )


#: the largest magnitude a numeric value may have: its square (standardisation) must stay finite
MAX_ABS_NUMBER = 1e150


def numbers(series: pd.Series, column: str, source: Any = None) -> np.ndarray:
    """Float64 values; a value that is present but not a number is a one-line DataError.

    So is an infinite value or one beyond :data:`MAX_ABS_NUMBER` (``1e308``): its mean and
    standard deviation overflow, which would silently turn the whole feature into zeros.
    """
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return _bounded(series.to_numpy(dtype="float64", na_value=np.nan), series, column, source)
    raw = series.astype("string").str.strip()
    raw = raw.mask(raw == "")
    parsed = pd.to_numeric(raw, errors="coerce")
    bad = parsed.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where(column, source)} is not numeric: row {row_number(series, row)} holds {str(raw.iloc[row])[:40]!r}",
            fix="fix that value, or declare the field as categorical",
        )
    return _bounded(parsed.to_numpy(dtype="float64", na_value=np.nan), series, column, source)


def _bounded(values: np.ndarray, series: pd.Series, column: str, source: Any) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        huge = np.abs(values) > MAX_ABS_NUMBER
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise DataError(
            f"{where(column, source)} holds {values[row]:g} at row {row_number(series, row)}, too large to "
            "use as a number (its statistics overflow)",
            fix="fix that value, rescale the column (e.g. log), or declare the field as categorical",
        )
    return values


def template_columns(template: str) -> list[str]:
    """Column names a text template refers to (``"{title}. {genres}"`` -> title, genres)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render_template(frame: pd.DataFrame, template: str, source: Any = None) -> pd.Series:
    """Build a text column from a template by vectorised string concatenation (no per-row format)."""
    out = pd.Series([""] * len(frame), index=frame.index, dtype="string")
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name:
            if name not in frame.columns:
                raise DataError(f"text template refers to {where(name, source)}, which does not exist", fix="fix the template or the column name")
            col = frame[name]
            if _is_listlike_column(col):
                col = col.map(lambda v: " ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
            out = out + as_keys(col).fillna("")
    return out.str.strip()
