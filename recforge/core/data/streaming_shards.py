"""Prepared rows on disk: sharded Parquet files written in one streaming pass, read by pieces.

The out-of-core path keeps a split as a folder of Parquet shards (``part-00000.parquet`` ...,
``shard_rows`` rows each) plus ``manifest.json`` (rows per shard and row group, columns, the
padded length of ragged columns). Every column is already indexed: categorical indices as
int32, numeric values and labels as float32, multi-valued and sequence fields as
``list<int32>``. Rows are addressed by *units* -- one Parquet row group -- so a reader can
take any row range by opening only the row groups it overlaps, and memory stays at one row
group whatever the split's size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from recforge.core.data.table import TensorTable
from recforge.core.errors import DataError

MANIFEST = "manifest.json"
SHARD_FORMAT = 1
#: rows per Parquet row group: the unit of reading and of the epoch's shuffle of units
ROW_GROUP_ROWS = 1 << 16


@dataclass(frozen=True)
class Unit:
    """One row group, or the part of it a view covers: ``rows`` rows of shard file ``shard``
    (row group ``group``, from its row ``offset``), starting at row ``start`` of the split."""

    shard: int
    group: int
    start: int
    rows: int
    offset: int = 0

    def within(self, lo: int, hi: int) -> Unit | None:
        """The part of this unit inside split rows ``lo:hi`` (None when they do not meet)."""
        a, b = max(self.start, lo), min(self.start + self.rows, hi)
        if a >= b:
            return None
        return Unit(self.shard, self.group, a, b - a, self.offset + a - self.start)


@dataclass
class ShardManifest:
    """What ``manifest.json`` says about a split's shards."""

    files: list[str]
    groups: list[list[int]]  # rows per row group, per file
    dense: dict[str, str]  # column -> stored kind: "index" (int) or "float"
    ragged: list[str]
    max_len: dict[str, int]

    @property
    def num_rows(self) -> int:
        return sum(sum(g) for g in self.groups)

    def units(self) -> list[Unit]:
        out, start = [], 0
        for shard, sizes in enumerate(self.groups):
            for group, rows in enumerate(sizes):
                out.append(Unit(shard, group, start, rows))
                start += rows
        return out

    def to_dict(self) -> dict[str, object]:
        return {"format": SHARD_FORMAT, "files": self.files, "groups": self.groups, "dense": self.dense,
                "ragged": self.ragged, "max_len": self.max_len}

    @classmethod
    def load(cls, folder: Path) -> ShardManifest:
        path = folder / MANIFEST
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"no shard manifest in {folder}", fix="prepare the data again (delete the folder)") from None
        if raw.get("format") != SHARD_FORMAT:
            raise DataError(f"shard format {raw.get('format')!r} in {folder} is not {SHARD_FORMAT}",
                            fix="prepare the data again with this recforge version")
        return cls(raw["files"], raw["groups"], raw["dense"], raw["ragged"], raw["max_len"])


# --------------------------------------------------------------------------- writing
class ShardWriter:
    """Appends TensorTables to a folder of Parquet shards of ``shard_rows`` rows each.

    Args:
        folder: created if missing; must not hold shards yet.
        shard_rows: rows per shard file (the last one may hold fewer).

    Example:
        >>> with ShardWriter(folder, shard_rows=1_000_000) as writer:  # doctest: +SKIP
        ...     for chunk in tables: writer.append(chunk)
    """

    def __init__(self, folder: Path, shard_rows: int, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        import pyarrow.parquet as pq

        self._pq = pq
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard_rows = max(1, int(shard_rows))
        self.row_group_rows = max(1, int(row_group_rows))
        self.files: list[str] = []
        self.groups: list[list[int]] = []
        self._writer: object = None
        self._in_shard = 0
        self._dense: dict[str, str] = {}
        self._ragged: list[str] = []
        self._max_len: dict[str, int] = {}
        self._started = False

    def __enter__(self) -> ShardWriter:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, table: TensorTable) -> None:
        """Write ``table``'s rows, starting new shards every ``shard_rows`` rows."""
        if not self._started:
            self._started = True
            self._dense = {n: "float" if c.is_floating_point() else "index" for n, c in table.dense.items()}
            self._ragged = list(table.ragged)
        self._max_len.update({k: max(v, self._max_len.get(k, 0)) for k, v in table.max_len.items()})
        start = 0
        while start < table.num_rows:
            if self._writer is None:
                self._open()
            take = min(table.num_rows - start, self.shard_rows - self._in_shard)
            arrow = _to_arrow(table.slice(start, start + take), self._dense)
            for lo in range(0, take, self.row_group_rows):
                piece = arrow.slice(lo, min(self.row_group_rows, take - lo))
                self._writer.write_table(piece, row_group_size=self.row_group_rows)  # type: ignore[attr-defined]
                self.groups[-1].append(piece.num_rows)
            self._in_shard += take
            start += take
            if self._in_shard >= self.shard_rows:
                self._close_shard()

    def _open(self) -> None:
        name = f"part-{len(self.files):05d}.parquet"
        self.files.append(name)
        self.groups.append([])
        self._in_shard = 0
        self._writer = _LazyWriter(self._pq, self.folder / name)

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()  # type: ignore[attr-defined]
            self._writer = None

    def close(self) -> ShardManifest:
        """Finish the last shard and write ``manifest.json`` (atomically)."""
        self._close_shard()
        manifest = ShardManifest(self.files, self.groups, self._dense, self._ragged, self._max_len)
        tmp = self.folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest.to_dict()), encoding="utf-8")
        os.replace(tmp, self.folder / MANIFEST)
        return manifest


class _LazyWriter:
    """A ParquetWriter opened at the first write, when the schema is known."""

    def __init__(self, pq: object, path: Path) -> None:
        self.pq, self.path, self.writer = pq, path, None

    def write_table(self, table: object, row_group_size: int) -> None:
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(str(self.path), table.schema, compression="none")  # type: ignore[attr-defined]
        self.writer.write_table(table, row_group_size=row_group_size)  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()  # type: ignore[attr-defined]


def _to_arrow(table: TensorTable, kinds: dict[str, str]) -> object:
    """A TensorTable as an Arrow table: indices int32 (int64 when too large), floats float32."""
    import pyarrow as pa

    cols: dict[str, object] = {}
    for name, col in table.dense.items():
        arr = col.numpy()
        if kinds.get(name) == "index":
            arr = arr.astype(np.int32) if arr.size == 0 or int(arr.max()) < 2**31 else arr
        elif arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        if arr.ndim == 2:  # vector fields: fixed-size lists
            cols[name] = pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), arr.shape[1])
        else:
            cols[name] = pa.array(arr)
    for name, (values, offsets) in table.ragged.items():
        off = offsets.numpy()
        vals = values.numpy()[int(off[0]):int(off[-1])].astype(np.int32)
        cols[name] = pa.ListArray.from_arrays(pa.array((off - off[0]).astype(np.int32)), pa.array(vals))
    return pa.table(cols)


def write_shards(tables: Iterable[TensorTable], folder: Path, shard_rows: int,
                 row_group_rows: int = ROW_GROUP_ROWS) -> ShardManifest:
    """Write every table of ``tables`` (chunks of one split, in order) as shards of ``folder``."""
    writer = ShardWriter(folder, shard_rows, row_group_rows)
    for table in tables:
        writer.append(table)
    return writer.close()


# --------------------------------------------------------------------------- reading
class ShardReader:
    """Reads row ranges of units as TensorTables (one row group in memory at a time)."""

    def __init__(self, folder: Path, manifest: ShardManifest | None = None) -> None:
        self.folder = Path(folder)
        self.manifest = manifest or ShardManifest.load(self.folder)
        self._open: tuple[int, object] | None = None

    def _file(self, shard: int) -> object:
        import pyarrow.parquet as pq

        if self._open is None or self._open[0] != shard:
            self._open = (shard, pq.ParquetFile(str(self.folder / self.manifest.files[shard]), memory_map=True))
        return self._open[1]

    def read(self, unit: Unit, lo: int = 0, hi: int | None = None, columns: list[str] | None = None) -> TensorTable:
        """Rows ``lo:hi`` of ``unit`` (all of it by default) as a TensorTable."""
        hi = unit.rows if hi is None else hi
        arrow = self._file(unit.shard).read_row_group(unit.group, columns=columns)  # type: ignore[attr-defined]
        if unit.offset or lo or unit.offset + hi < arrow.num_rows:
            arrow = arrow.slice(unit.offset + lo, hi - lo)
        return _from_arrow(arrow, self.manifest)

    def ranges(self, units: list[Unit], lo: int, hi: int) -> Iterator[tuple[Unit, int, int]]:
        """``(unit, from, to)`` pieces covering rows ``lo:hi`` of the concatenation of ``units``."""
        start = 0
        for unit in units:
            stop = start + unit.rows
            if stop > lo and start < hi:
                yield unit, max(lo, start) - start, min(hi, stop) - start
            if stop >= hi:
                break
            start = stop

    def column(self, name: str) -> Tensor:
        """One dense column of the whole split, in row order."""
        import pyarrow.parquet as pq

        parts = [pq.read_table(str(self.folder / f), columns=[name]).column(name).to_numpy() for f in self.manifest.files]
        arr = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return _tensor(arr, self.manifest.dense.get(name, "float"))


def _tensor(arr: np.ndarray, kind: str) -> Tensor:
    """A writable tensor (Arrow's buffers are read-only): indices int64, values float32."""
    if kind == "index":
        return torch.from_numpy(arr.astype(np.int64))
    return torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))


def _from_arrow(arrow: object, manifest: ShardManifest) -> TensorTable:
    import pyarrow as pa

    dense: dict[str, Tensor] = {}
    ragged: dict[str, tuple[Tensor, Tensor]] = {}
    for name in arrow.column_names:  # type: ignore[attr-defined]
        col = arrow.column(name).combine_chunks()  # type: ignore[attr-defined]
        if name in manifest.ragged:
            offsets = col.offsets.to_numpy().astype(np.int64)
            values = col.values.to_numpy(zero_copy_only=False).astype(np.int64)
            ragged[name] = (torch.from_numpy(values), torch.from_numpy(offsets))
        elif pa.types.is_fixed_size_list(col.type):
            flat = col.flatten().to_numpy(zero_copy_only=False)
            dense[name] = torch.from_numpy(np.array(flat, dtype=np.float32, copy=True)).view(len(col), col.type.list_size)
        else:
            dense[name] = _tensor(col.to_numpy(zero_copy_only=False), manifest.dense.get(name, "float"))
    max_len = {k: v for k, v in manifest.max_len.items() if k in ragged}
    return TensorTable(dense, ragged, max_len)
