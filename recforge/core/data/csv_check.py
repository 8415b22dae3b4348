"""Strict structure check of a CSV/TSV file before pandas reads it.

pandas' C parser is lenient where a recommender must not be: a short row is padded with NaN,
an unterminated quote swallows the following lines into one field (two rows merged), and a
repeated column name is silently renamed ``name.1`` (so a later "column missing" error names
the wrong file). :func:`check_csv` reads the file once and raises a one-line
:class:`DataError` with the file and the line number instead.

Files without the quote character are checked vectorised (separators per line with numpy);
files with quotes go through Python's ``csv`` module in strict mode, which knows quoting.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from recforge.core.errors import DataError

_FIX = "fix that line of the file (every row needs one value per column; quote text that holds the separator)"


def _raw(path: Path) -> bytes:
    if path.suffix.lower() == ".gz":
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def check_csv(path: Path, *, sep: str, header: bool, names: list[str] | None, encoding: str,
              quoting: int) -> None:
    """Refuse ragged rows, broken quotes and duplicate column names (see the module docstring)."""
    if len(sep) != 1:
        return  # a regex separator: pandas' python engine checks it
    raw = _raw(path)
    if not raw.strip():
        return  # pandas reports an empty file
    text = raw.decode(encoding)
    quoted = quoting != csv.QUOTE_NONE and '"' in text
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep,
                            quoting=quoting if quoted else csv.QUOTE_NONE), [])
    if header:
        _check_names([c.strip() for c in first], path)
    width = len(names) if names else len(first)
    if quoted:
        _check_quoted(text, path, sep, width, quoting)
    else:
        _check_plain(raw, path, sep, width)


def _check_names(columns: list[str], path: Path) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise DataError(f"column '{column}' appears twice in the header of {path}",
                            fix="rename or drop one of the two columns in that file")
        seen.add(column)


def _check_plain(raw: bytes, path: Path, sep: str, width: int) -> None:
    """Separators per non-blank line, counted with numpy (no per-line Python)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    newlines = np.flatnonzero(data == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, data.size)               # line i is data[starts[i]:ends[i]]
    counts = np.concatenate(([0], np.cumsum(data == ord(sep))))
    per_line = counts[ends] - counts[starts]
    length = ends - starts
    carriage = (length > 0) & (data[np.maximum(ends - 1, 0)] == ord("\r"))
    blank = length - carriage <= 0                      # pandas skips blank lines
    bad = np.flatnonzero((per_line != width - 1) & ~blank)
    if bad.size:
        line = int(bad[0])
        raise DataError(f"line {line + 1} of {path} has {int(per_line[line]) + 1} fields, the header has {width}",
                        fix=_FIX)


def _check_quoted(text: str, path: Path, sep: str, width: int, quoting: int) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting, strict=True)
    start = 1
    try:
        for row in reader:
            if row and len(row) != width:
                what = f"{len(row)} fields, the header has {width}"
                if reader.line_num > start:
                    what += f" (a quote opened on line {start} runs to line {reader.line_num})"
                raise DataError(f"line {start} of {path} has {what}", fix=_FIX)
            start = reader.line_num + 1
    except csv.Error as err:
        what = "a quote that is never closed" if "end of data" in str(err) else f"broken quoting ({err})"
        raise DataError(f"line {start} of {path} has {what}",
                        fix="close the quote on that line, or double a quote inside quoted text") from None
