"""Readers: CSV / TSV / Parquet / JSON lines (gzip included) into pandas frames.

Every failure a user can cause (missing file, truncated gzip, malformed rows, bad encoding,
missing column) becomes a one-line :class:`DataError` that names the file, because a raw
pandas or zlib traceback does not say which of several input files is broken.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import zlib
from pathlib import Path
from typing import Any

import pandas as pd

from recforge.core.data.columns import require_flat
from recforge.core.data.csv_check import check_csv
from recforge.core.errors import DataError

FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet", "jsonl", "json")
_SUFFIX_FORMAT = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
#: exceptions pandas / zlib / pyarrow raise on malformed or truncated input
_READ_ERRORS: tuple[type[BaseException], ...] = (
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    UnicodeDecodeError,
    ValueError,
    EOFError,
    OSError,
    zlib.error,
    gzip.BadGzipFile,
    csv.Error,
    TypeError,
    OverflowError,
    IndexError,
    KeyError,
)


def detect_format(path: Path) -> str:
    """File format from the suffix, looking through a trailing ``.gz``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _SUFFIX_FORMAT.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise DataError(
            f"cannot tell the format of {path} from its name",
            fix=f"pass format= one of {', '.join(FORMATS)}",
        )
    return fmt


def _sniff_sep(path: Path, encoding: str) -> str:
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding=encoding, errors="replace") as handle:
        first = handle.readline()
    return "\t" if first.count("\t") > first.count(",") else ","


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())[:300]


def read_table(
    path: str | Path,
    *,
    format: str | None = None,
    sep: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
    usecols: list[str] | None = None,
    encoding: str = "utf-8",
    dtype: Any = None,
    quoting: int = csv.QUOTE_MINIMAL,
    flat: bool = False,
) -> pd.DataFrame:
    """Read one table file into a frame; problems raise a one-line DataError naming the file.

    Args:
        path: the file (``.gz`` is decompressed transparently).
        format: ``csv``, ``tsv``, ``parquet`` or ``jsonl``; guessed from the suffix when None.
        sep: CSV separator; sniffed from the first line when None (tab vs comma).
        header: whether the first line holds column names (CSV/TSV).
        names: column names for header-less files.
        usecols: read only these columns (missing ones fail, naming the file).
        encoding: text encoding (MovieLens 100k is ``latin-1``).
        dtype: passed to pandas (e.g. ``str`` to keep ids as text).
        quoting: CSV quoting mode (``csv.QUOTE_NONE`` for files whose text holds quotes).
        flat: refuse nested values (lists, structs from JSON lines or Parquet) in any column,
            naming the column and row: a user's table of features must be flat. Recipes that
            flatten nested source data themselves (Amazon metadata) leave it off.

    Example:
        >>> frame = read_table("ratings.csv.gz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}", fix="check the path or the data directory (RECFORGE_DATA_DIR)")
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown file format '{fmt}' for {path}", fix=f"use one of {', '.join(FORMATS)}")
    try:
        if fmt in ("csv", "tsv"):
            if sep is None:
                sep = "\t" if fmt == "tsv" else _sniff_sep(path, encoding)
            check_csv(path, sep=sep, header=header, names=names, encoding=encoding, quoting=quoting)
            frame = pd.read_csv(
                path,
                sep=sep,
                header=0 if header else None,
                names=names,
                usecols=usecols,
                encoding=encoding,
                dtype=dtype,
                quoting=quoting,
                engine="c",
                compression="infer",
            )
        elif fmt == "parquet":
            frame = pd.read_parquet(path, columns=usecols)
        else:
            frame = pd.read_json(path, lines=True, dtype=False, convert_dates=False, compression="infer")
            if usecols is not None:
                require_columns(frame, usecols, path)
                frame = frame[usecols]
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"out of memory reading {path}", fix="read fewer columns or use a larger machine") from None
    except _READ_ERRORS as err:
        if isinstance(err, (EOFError, zlib.error, gzip.BadGzipFile)) or "compressed" in str(err).lower():
            raise DataError(
                f"{path} is a truncated or corrupt gzip file ({_one_line(err)})",
                fix="download or copy the file again",
            ) from None
        if isinstance(err, UnicodeDecodeError):
            raise DataError(
                f"{path} is not valid {encoding} text (byte {err.start})",
                fix="pass the right encoding (e.g. latin-1) or re-save the file as UTF-8",
            ) from None
        if isinstance(err, pd.errors.EmptyDataError):
            raise DataError(f"{path} is empty", fix="check that the file was written completely") from None
        raise DataError(f"cannot parse {path} as {fmt}: {_one_line(err)}", fix="fix the file or its declared format") from None
    except Exception as err:  # noqa: BLE001 - pyarrow and friends raise their own families
        raise DataError(f"cannot read {path} as {fmt}: {type(err).__name__}: {_one_line(err)}", fix="fix the file or its declared format") from None
    if flat:
        for column in frame.columns:
            require_flat(frame[column], str(column), path)
    frame.attrs["source"] = str(path)
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str] | tuple[str, ...], source: Any = None) -> None:
    """Fail with the file name and the available columns when ``columns`` are not all present."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        where = source or frame.attrs.get("source", "the data")
        have = ", ".join(map(str, list(frame.columns)[:30]))
        raise DataError(
            f"column '{missing[0]}' is missing in {where} (columns: {have})",
            fix="fix the column name in the field declaration or the file",
        )


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file (for fingerprints and download checks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
