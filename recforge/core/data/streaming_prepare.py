"""The streaming preparation pass: chunks -> fitted FeatureMap -> Parquet shards per split.

Two sources feed it. :func:`prepare_streamed` takes the split frames of any recipe (what
``recforge train`` with ``data.streaming`` uses) and walks them in chunks; the out-of-core
source is a Parquet dataset read by :func:`parquet_chunks` -- pyarrow's dataset scanner, so
only one chunk of rows is in memory -- which :func:`fit_parquet` and :func:`write_split`
turn into a FeatureMap and shards (the ``scale`` benchmark's 50M-row path). Either way the
FeatureMap is fitted in one pass over the training chunks
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
from recforge.core.errors import ConfigError

#: rows indexed per chunk of the transform pass (and read per chunk from Parquet)
CHUNK_ROWS = 1 << 19


def frame_chunks(frame: pd.DataFrame, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Consecutive row slices of an in-memory frame (views; the source name kept)."""
    for start in range(0, len(frame), rows):
        chunk = frame.iloc[start:start + rows]
        chunk.attrs["source"] = frame.attrs.get("source")
        yield chunk


def parquet_chunks(files: Iterable[str | Path], columns: list[str] | None = None,
                   rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """A Parquet dataset (files or folders) as pandas chunks of about ``rows`` rows, read by
    pyarrow's dataset scanner so that memory holds one chunk, not the dataset."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset([str(f) for f in files], format="parquet")
    pending: list[Any] = []
    have = 0
    # no read-ahead: pyarrow's default (16 batches x 4 files) buffers GBs while the consumer indexes
    for batch in dataset.to_batches(columns=columns, batch_size=rows, batch_readahead=0, fragment_readahead=0):
        pending.append(batch)
        have += batch.num_rows
        if have >= rows:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, have = [], 0
    if pending:
        yield pa.Table.from_batches(pending).to_pandas()


def spec_columns(specs: list[Any]) -> list[str]:
    """The raw columns that field declarations read (for reading only those from Parquet)."""
    from recforge.core.data.columns import template_columns
    from recforge.core.data.schema import field_spec_from_dict

    out: list[str] = []
    for spec in map(field_spec_from_dict, specs):
        cols = template_columns(spec.template) if spec.kind == "text" and spec.template else [spec.source or spec.name]
        out += [c for c in cols if c not in out]
    return out


def fit_parquet(files: Iterable[str | Path], specs: list[Any], rows: int = CHUNK_ROWS) -> FeatureMap:
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


def prepare_streamed(raw: Any, frames: dict[str, pd.DataFrame], specs: list[Any], settings: StreamingConfig, *,
                     label: str, user_field: str | None, item_field: str | None, fingerprint: str, name: str,
                     counts: dict[str, Any], use_cache: bool, negatives: Any = None) -> Any:
    """Split frames -> streamed FeatureMap fit -> shards per split, as a ``PreparedData``."""
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
        sources: dict[str, Callable[[], Iterator[pd.DataFrame]]] = {
            s: (lambda f=frames[s]: frame_chunks(f)) for s in SPLITS if s in frames}
        fm = fit_streaming(sources["train"](), specs, source=frames["train"].attrs.get("source"))
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
