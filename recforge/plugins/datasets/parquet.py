"""``parquet``: pre-split Parquet files or folders, read in chunks so they never have to fit in memory.

The ``files`` recipe reads each split into one pandas frame, which caps a dataset at what RAM
holds. This recipe only lists the files: with ``data.streaming`` on, the feature map is fitted
and the shards are written chunk by chunk straight from them (``docs/out-of-core.md``); with
it off (or below its ``auto`` threshold) the splits are read whole and take the in-memory
path, so the same config serves a sample and the full set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from recforge.core.components import param
from recforge.core.data.recipe import SPLITS, RawData, Recipe
from recforge.core.data.schema import FieldSpec
from recforge.core.data.streaming_prepare import open_parquet, parquet_files
from recforge.core.errors import ConfigError, DataError

log = logging.getLogger(__name__)
LABEL_KEYS = ("label", "click", "clicked", "target", "y")


def schema_fields(files: list[Path], label_key: str) -> tuple[list[FieldSpec], str]:
    """Fields guessed from the first file's Parquet schema (no rows are read): the label column
    (none when no column has a label's name: ``data.label`` or ``data.fields`` then declares it),
    floating columns numeric, integer / boolean / string columns categorical."""
    import pyarrow as pa

    schema = open_parquet(files[0]).schema_arrow
    names = list(schema.names)
    label = label_key or next((k for k in LABEL_KEYS if k in names), "")
    if label_key and label_key not in names:
        raise DataError(f"label column '{label_key}' is missing in {files[0]} (columns: {', '.join(names[:30])})",
                        fix="fix data.params.label_key")
    specs = [FieldSpec(label, "label", role="label")] if label else []
    skipped = []
    for entry in schema:
        kind = entry.type
        if entry.name == label:
            continue
        if pa.types.is_floating(kind):
            specs.append(FieldSpec(entry.name, "numeric"))
        elif pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_string(kind) \
                or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
            specs.append(FieldSpec(entry.name, "categorical"))
        else:
            skipped.append(f"{entry.name} ({kind})")
    if skipped:
        log.warning("parquet recipe: no field guessed for %s; declare them in data.fields to use them", ", ".join(skipped))
    return specs, label


class ParquetRecipe(Recipe):
    """Pre-split train / valid / test Parquet data, each a file or a folder of ``*.parquet``
    files, read in row-group chunks: the source for data larger than memory.

    Fields are guessed from the Parquet schema (floating columns numeric, integer and string
    columns categorical, the label by ``label_key`` or a common name); ``data.fields`` overrides
    them. Set ``data.streaming.enabled: true`` (or ``auto``) to fit and shard the data without
    loading it; without it the splits are read whole into memory like the ``files`` recipe.

    Args:
        train: training file or folder.
        valid: validation file or folder.
        test: test file or folder.
        label_key: label column ('' = the first of label, click, clicked, target, y).

    Example:
        data:
          recipe: parquet
          params: {train: /data/criteo/train, valid: /data/criteo/valid, test: /data/criteo/test}
          streaming: {enabled: true}
    """

    name = "parquet"

    @dataclass
    class Params:
        train: str = param("", "training Parquet file or folder")
        valid: str = param("", "validation Parquet file or folder")
        test: str = param("", "test Parquet file or folder")
        label_key: str = param("", "label column ('' = guess)")

    def _splits(self, params: ParquetRecipe.Params) -> dict[str, list[Path]]:
        missing = [s for s in SPLITS if not getattr(params, s)]
        if missing:
            raise ConfigError(f"parquet recipe needs train, valid and test; {', '.join(missing)} not set",
                              fix="set data.params.train, .valid and .test to Parquet files or folders")
        return {s: parquet_files([getattr(params, s)]) for s in SPLITS}

    def raw_files(self, params: ParquetRecipe.Params) -> list[Path]:
        return [f for files in self._splits(params).values() for f in files]

    def load(self, params: ParquetRecipe.Params) -> RawData:
        splits = self._splits(params)
        fields, _ = schema_fields(splits["train"], params.label_key)
        return RawData({}, fields, files=[f for files in splits.values() for f in files],
                       sources={s: getattr(params, s) for s in SPLITS}, parquet=splits)
