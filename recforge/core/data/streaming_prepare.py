"""The streaming preparation pass: chunks -> fitted FeatureMap -> Parquet shards per split.

Two kinds of source feed it, as chunks of rows: the split frames of any in-memory recipe
(:func:`frame_sources`, what ``recforge train`` with ``data.streaming`` uses for them), and
Parquet files read from disk one row group at a time (:func:`parquet_chunks`: the ``parquet``
recipe's out-of-core source, and the ``scale`` benchmark's 50M-row path through
:func:`fit_parquet` and :func:`write_split`), so only one chunk of rows is in memory. Either way
the FeatureMap is fitted in one pass over the training chunks
(:mod:`recforge.core.data.streaming_fit`) and each split is transformed chunk by chunk into
shards (:mod:`recforge.core.data.streaming_shards`) by the same ``FeatureMap.transform`` the
in-memory path uses, so both paths index every row identically.

A prepared folder holds ``featuremap.json``, ``meta.json`` (``layout: shards``), one shard
folder per split and the item files; it is written under a temporary name and renamed into
the prepared-data cache when complete, like the in-memory cache.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from recforge.core import paths
from recforge.core.config_schema import StreamingConfig
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.recipe import SPLITS
from recforge.core.data.streaming_config import SHARDED_LAYOUT
from recforge.core.data.streaming_fit import fit_streaming
from recforge.core.data.streaming_shards import ShardManifest, write_shards
from recforge.core.data.streaming_table import ShardedTable, StreamSettings
from recforge.core.errors import ConfigError, DataError

#: rows indexed per chunk of the transform pass (and read per chunk from Parquet)
CHUNK_ROWS = 1 << 19
#: rows per chunk read from Parquet: one of the writers' usual row groups (decoded, 39 int64/float
#: columns of 131,072 rows are 40 MB), so a chunk never pulls more than one row group ahead
PARQUET_CHUNK_ROWS = 1 << 17


def frame_chunks(frame: pd.DataFrame, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Consecutive row slices of an in-memory frame (views; the source name kept)."""
    for start in range(0, len(frame), rows):
        chunk = frame.iloc[start:start + rows]
        chunk.attrs["source"] = frame.attrs.get("source")
        yield chunk


def parquet_files(paths_: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every ``*.parquet`` below a named folder (sorted, so the row
    order is the same on every run); a name that is neither is a one-line DataError."""
    out: list[Path] = []
    for given in paths_:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.parquet") if p.is_file())
            if not found:
                raise DataError(f"no *.parquet files under {path}", fix="point the path at a Parquet file or a folder of them")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise DataError(f"Parquet input not found: {path}", fix="check the path (a file or a folder of *.parquet files)")
    return out


def parquet_chunks(files: Iterable[str | Path], columns: list[str] | None = None,
                   rows: int = PARQUET_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Parquet files (or folders of them) as pandas chunks of at most ``rows`` rows.

    Each file is read one row group at a time (``ParquetFile.iter_batches``) and each batch is
    converted with ``self_destruct``, so memory holds about one chunk. pyarrow's dataset
    scanner, used before, decoded whole files ahead of the consumer even with read-ahead off:
    at 50M Criteo-like rows the fit peaked at 2.7 GB, 1-2 GB of it arrow buffers.
    """
    import pyarrow as pa

    for path in parquet_files(files):
        reader = open_parquet(path)
        missing = [c for c in columns or [] if c not in reader.schema_arrow.names]
        if missing:
            raise DataError(f"column '{missing[0]}' is missing in {path} (it has: "
                            f"{', '.join(reader.schema_arrow.names[:30])})", fix="fix the field declarations or the file")
        try:
            for batch in reader.iter_batches(batch_size=rows, columns=columns, use_threads=False):
                chunk = pa.Table.from_batches([batch]).to_pandas(self_destruct=True, split_blocks=True)
                del batch
                chunk.attrs["source"] = str(path)
                yield chunk
        except (pa.ArrowException, OSError) as err:
            raise _unreadable(path, err) from None


def open_parquet(path: Path) -> Any:
    """``pyarrow.parquet.ParquetFile`` of ``path``; a file that is not Parquet is a one-line DataError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise _unreadable(path, err) from None


def _unreadable(path: Path, err: BaseException) -> DataError:
    return DataError(f"{path} could not be read as Parquet ({str(err).splitlines()[0][:200]})",
                     fix="check that the file is a complete Parquet file")


def spec_columns(specs: list[Any]) -> list[str]:
    """The raw columns that field declarations read (for reading only those from Parquet)."""
    from recforge.core.data.columns import template_columns
    from recforge.core.data.schema import field_spec_from_dict

    out: list[str] = []
    for spec in map(field_spec_from_dict, specs):
        cols = template_columns(spec.template) if spec.kind == "text" and spec.template else [spec.source or spec.name]
        out += [c for c in cols if c not in out]
    return out


def fit_parquet(files: Iterable[str | Path], specs: list[Any], rows: int = PARQUET_CHUNK_ROWS) -> FeatureMap:
    """A FeatureMap fitted in one streaming pass over a Parquet training set."""
    return fit_streaming(parquet_chunks(files, spec_columns(specs), rows), specs)


def write_split(fm: FeatureMap, chunks: Iterable[pd.DataFrame], folder: Path, shard_rows: int) -> ShardManifest:
    """Index ``chunks`` with ``fm`` and write them as the shards of one split."""
    return write_shards((fm.transform(chunk, source=chunk.attrs.get("source")) for chunk in chunks), folder, shard_rows)


def _staging(fingerprint: str, use_cache: bool) -> tuple[Path, Path]:
    """``(temporary folder, final folder)``: under the prepared-data cache, or a private temp
    folder removed at exit when the cache is off."""
    if use_cache:
        root = paths.cache_dir("prepared")
        return Path(tempfile.mkdtemp(prefix=f".tmp-{fingerprint}-", dir=root)), root / fingerprint
    final = Path(tempfile.mkdtemp(prefix="recforge-stream-"))
    atexit.register(shutil.rmtree, final, True)
    return final / ".tmp", final / "data"


#: split -> a function giving that split's chunks afresh (the training split is walked twice)
ChunkSources = dict[str, Callable[[], Iterator[pd.DataFrame]]]


def frame_sources(frames: dict[str, pd.DataFrame]) -> ChunkSources:
    """Chunk sources over in-memory split frames (any recipe's output)."""
    return {s: (lambda f=frames[s]: frame_chunks(f)) for s in SPLITS if s in frames}


def prepare_streamed(raw: Any, sources: ChunkSources, specs: list[Any], settings: StreamingConfig, *,
                     label: str, user_field: str | None, item_field: str | None, fingerprint: str, name: str,
                     counts: dict[str, Any], use_cache: bool, negatives: Any = None) -> Any:
    """Split chunks -> streamed FeatureMap fit -> shards per split, as a ``PreparedData``.

    ``sources`` walk in-memory frames (:func:`frame_sources`) or Parquet files on disk
    (:mod:`recforge.core.data.parquet_source`); either way one chunk is transformed at a time.
    """
    from recforge.core.data.prepare import (
        PreparedData,
        build_items,
        load_cached,
        publish,
        write_items,
    )

    if negatives:
        raise ConfigError("data.negatives does not work with data.streaming (negatives are drawn over the "
                          "whole training table)", fix="drop data.negatives or set data.streaming.enabled: false")
    tmp, final = _staging(fingerprint, use_cache)
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        fm = fit_streaming(sources["train"](), specs, source=raw.sources.get("train") or raw.sources.get("all"))
        for split, chunks in sources.items():  # train first: it registers the training texts
            write_split(fm, chunks(), tmp / split, settings.shard_rows)
        items, item_meta = build_items(raw, fm, item_field)
        fm.save(tmp / "featuremap.json")
        shell = PreparedData(fm, fm.fields, label, {}, user_field, item_field, items, item_meta, fingerprint, name, counts)
        write_items(shell, tmp)
        info = {"format": 1, "layout": SHARDED_LAYOUT, "fingerprint": fingerprint, "name": name, "label": label,
                "user_field": user_field, "item_field": item_field, "counts": counts,
                "stream": {"shuffle_buffer": settings.shuffle_buffer, "workers": settings.workers}}
        publish(tmp, final, info)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if use_cache:
        prepared = load_cached(fingerprint)
        if prepared is None:
            raise ConfigError(f"the streamed data in {final} could not be read back", fix=f"delete {final} and run again")
        return prepared
    shell.splits = sharded_splits(final, info)
    shell.cache_path = final
    return shell


def sharded_splits(folder: Path, info: dict[str, Any]) -> dict[str, ShardedTable]:
    """The split tables of a prepared folder written by :func:`prepare_streamed`."""
    stream = info.get("stream") or {}
    settings = StreamSettings(int(stream.get("shuffle_buffer", StreamSettings.shuffle_buffer)),
                              int(stream.get("workers", 0)))
    return {s: ShardedTable(folder / s, settings) for s in SPLITS if (folder / s).is_dir()}
