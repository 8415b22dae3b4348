"""Preparing a dataset whose splits stay on disk as Parquet files (the ``parquet`` recipe).

Such a source is never read into one frame on the streaming path: the label is derived and
checked chunk by chunk as the chunks are fitted and written, and the row counts come from the
files' footers. Off the streaming path the splits are read whole and join the in-memory path
like any recipe's frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from recforge.core.data.recipe import SPLITS, RawData
from recforge.core.data.schema import FieldSpec
from recforge.core.data.streaming_prepare import (
    ChunkSources,
    open_parquet,
    parquet_chunks,
    spec_columns,
)


def parquet_rows(files: list[Path]) -> int:
    """Rows in ``files``, from their footers (no row is read)."""
    return sum(open_parquet(f).metadata.num_rows for f in files)


def read_columns(specs: list[FieldSpec], label: str, label_cfg: dict[str, Any]) -> list[str]:
    """The columns the fields read, with the label's source column when ``data.label`` derives it."""
    columns = spec_columns([s for s in specs if s.kind != "label"])
    label_spec = next(s for s in specs if s.name == label)
    source = label_cfg.get("source") or label_spec.source or label_spec.name
    return columns + ([source] if source not in columns else [])


def read_whole(raw: RawData) -> dict[str, pd.DataFrame]:
    """Every split read into memory (the in-memory path for a Parquet source)."""
    return {split: pd.concat(list(parquet_chunks(raw.parquet[split])), ignore_index=True) for split in SPLITS}


def chunk_sources(raw: RawData, columns: list[str], label_chunk: Any) -> ChunkSources:
    """Per split, a function walking its Parquet chunks with ``label_chunk(frame, where)`` applied."""

    def walk(split: str) -> Iterator[pd.DataFrame]:
        for chunk in parquet_chunks(raw.parquet[split], columns):
            label_chunk(chunk, chunk.attrs.get("source"))
            yield chunk

    return {split: (lambda s=split: walk(s)) for split in SPLITS}


def parquet_counts(raw: RawData) -> dict[str, Any]:
    """Rows per split from the footers (users, items and the positive rate would need a pass)."""
    rows = {split: parquet_rows(raw.parquet[split]) for split in SPLITS}
    return {"rows": rows, "total_rows": sum(rows.values())}
