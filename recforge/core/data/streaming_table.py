"""ShardedTable: a prepared split kept on disk, read in order (evaluation) or streamed (training).

It stands where a :class:`~recforge.core.data.table.TensorTable` stands in ``PreparedData``
and offers the part of its interface that reading in order allows: ``num_rows``,
``columns``, ``shard``/``slice`` (row-range views), ``iter_batches`` (in row order: the
evaluation path, so streamed and in-memory predictions are the same rows in the same
order), ``dense`` (whole columns, read one at a time when asked: labels, group ids) and
``batch`` (random access by row, reading only the row groups it touches). Training goes
through :meth:`epoch_batches`, which the trainer calls instead of permuting rows in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recforge.core import distributed
from recforge.core.data.streaming_loader import (
    Block,
    EpochPlan,
    RowRangeStream,
    block_rows,
    padded,
    rebatch,
    stream_blocks,
    unit_order,
)
from recforge.core.data.streaming_shards import ShardManifest, ShardReader, Unit
from recforge.core.errors import DataError


@dataclass(frozen=True)
class StreamSettings:
    """How a training split is streamed (``data.streaming``): rows held by the shuffle
    buffer (per rank, shared by its workers) and DataLoader worker processes per rank."""

    shuffle_buffer: int = 1 << 18
    workers: int = 0


class LazyColumns(dict):  # type: ignore[type-arg]
    """``{column: tensor}`` of a sharded split whose tensors are read on first access.

    A ``dict`` so the data layer's ``column(table, name)`` finds whole columns here the way
    it does on a TensorTable; only the columns actually asked for are ever read.
    """

    def __init__(self, table: ShardedTable, names: list[str]) -> None:
        super().__init__(dict.fromkeys(names))
        self._table = table

    def __getitem__(self, name: str) -> Tensor:
        value = super().__getitem__(name)
        if value is None:
            value = self._table.read_column(name)
            super().__setitem__(name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default  # noqa: SIM401 - self.get is this method

    def values(self) -> Any:
        return [self[k] for k in self]

    def items(self) -> Any:
        return [(k, self[k]) for k in self]


class ShardedTable:
    """Rows ``lo:hi`` of a split stored as Parquet shards (see :mod:`.streaming_shards`).

    Args:
        folder: the split's shard folder (with ``manifest.json``).
        settings: shuffle buffer and loader workers for training.
        lo / hi: the row range this view covers (the whole split by default).

    Example:
        >>> table = ShardedTable(folder)  # doctest: +SKIP
        >>> for batch in table.iter_batches(4096): ...  # doctest: +SKIP
    """

    def __init__(self, folder: Path, settings: StreamSettings | None = None, lo: int = 0, hi: int | None = None,
                 manifest: ShardManifest | None = None) -> None:
        self.folder = Path(folder)
        self.manifest = manifest or ShardManifest.load(self.folder)
        self.settings = settings or StreamSettings()
        total = self.manifest.num_rows
        self.lo, self.hi = max(0, lo), total if hi is None else min(hi, total)
        self.hi = max(self.lo, self.hi)
        self.max_len = dict(self.manifest.max_len)
        self.dense = LazyColumns(self, list(self.manifest.dense))

    # ------------------------------------------------------------------ basics
    @property
    def num_rows(self) -> int:
        return self.hi - self.lo

    def __len__(self) -> int:
        return self.num_rows

    @property
    def columns(self) -> list[str]:
        return [*self.manifest.dense, *self.manifest.ragged]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __repr__(self) -> str:
        return f"ShardedTable(rows={self.num_rows}, shards={len(self.manifest.files)}, folder={self.folder})"

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        """Training steps of an epoch (the plan's global batches) or, with ``drop_last``, full batches."""
        if drop_last:
            return self.num_rows // batch_size
        return EpochPlan(self.num_rows, batch_size, distributed.world_size()).steps()

    # ------------------------------------------------------------------ views
    def slice(self, start: int, stop: int) -> ShardedTable:
        start, stop = max(0, start), min(self.num_rows, stop)
        return ShardedTable(self.folder, self.settings, self.lo + start, self.lo + max(start, stop), self.manifest)

    def shard(self, rank: int, world_size: int) -> ShardedTable:
        """Contiguous part ``rank`` of ``world_size`` (the evaluation split of rows over ranks)."""
        lo, hi = distributed.shard_bounds(self.num_rows, rank, world_size)
        return self.slice(lo, hi)

    # ------------------------------------------------------------------ reading in order
    def units(self) -> list[Unit]:
        """The row groups (or parts of them) this view covers, in row order."""
        parts = (u.within(self.lo, self.hi) for u in self.manifest.units())
        return [u for u in parts if u is not None]

    def _blocks(self, columns: list[str] | None = None) -> Iterator[Block]:
        return iter(RowRangeStream(self.folder, self.manifest, self.units(), 0, self.num_rows, None, 0, columns))

    def iter_batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                     drop_last: bool = False) -> Iterator[Block]:
        """Batches in row order (``shuffle`` is refused: training uses :meth:`epoch_batches`)."""
        if batch_size <= 0:
            raise DataError(f"batch_size must be positive, got {batch_size}", fix="set train.batch_size >= 1")
        if shuffle:
            raise DataError("a sharded split is shuffled by epoch_batches, not iter_batches",
                            fix="train through the Trainer (it streams shuffled shards)")
        full, rest = divmod(self.num_rows, batch_size)
        sizes = [batch_size] * full + ([rest] if rest and not drop_last else [])
        return rebatch(self._blocks(), sizes)

    def read_column(self, name: str) -> Tensor:
        """One dense column over this view's rows."""
        if name not in self.manifest.dense:
            raise DataError(f"the split has no dense column '{name}'", fix="declare the field in data.fields")
        if self.lo == 0 and self.hi == self.manifest.num_rows:
            return ShardReader(self.folder, self.manifest).column(name)
        reader = ShardReader(self.folder, self.manifest)
        parts = [reader.read(u, columns=[name]).dense[name] for u in self.units()]
        return torch.cat(parts) if parts else reader.column(name)[:0]

    def batch(self, index: Tensor) -> Block:
        """Rows ``index`` of this view (reads only the row groups holding them)."""
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.num_rows):
            raise DataError(f"row index out of range 0..{self.num_rows - 1}", fix="index rows of this split")
        absolute = index.numpy() + self.lo
        units = self.manifest.units()
        starts = np.asarray([u.start for u in units], dtype=np.int64)
        owner = np.searchsorted(starts, absolute, side="right") - 1
        reader = ShardReader(self.folder, self.manifest)
        parts: list[Block] = []
        positions: list[np.ndarray] = []
        for u in np.unique(owner):
            where = np.flatnonzero(owner == u)
            rows = padded(reader.read(units[u]))
            local = torch.from_numpy(absolute[where] - starts[u])
            parts.append({k: v.index_select(0, local) for k, v in rows.items()})
            positions.append(where)
        if not parts:
            return padded(reader.read(units[0], 0, 0)) if units else {}
        order = torch.from_numpy(np.argsort(np.concatenate(positions), kind="stable"))
        return {k: torch.cat([p[k] for p in parts]).index_select(0, order) for k in parts[0]}

    # ------------------------------------------------------------------ training
    def epoch_batches(self, generator: torch.Generator, batch_size: int, rank: int | None = None,
                      world: int | None = None) -> Iterator[tuple[Block, int, int]]:
        """``(this rank's batch, its rows, the global batch's rows)`` for one training epoch.

        The unit order and the shuffle seeds come from ``generator`` (the trainer's per-epoch
        generator, equal on every rank); see :mod:`.streaming_loader` for who reads what.
        ``rank`` / ``world`` default to this process's place in the process group.
        """
        rank = distributed.rank() if rank is None else rank
        world = distributed.world_size() if world is None else world
        plan = EpochPlan(self.num_rows, batch_size, world)
        seed = epoch_seed(generator)
        order = unit_order(self.units(), seed)
        lo, hi = plan.rank_range(rank)
        stream = RowRangeStream(self.folder, self.manifest, order, lo, hi, self.settings.shuffle_buffer,
                                seed + 7919 * rank)
        blocks = stream_blocks(stream, self.settings.workers)
        for batch, size in zip(rebatch(blocks, plan.local_sizes(rank)), plan.global_sizes()):
            yield batch, block_rows(batch), size


def epoch_seed(generator: torch.Generator) -> int:
    """The seed of an epoch's unit order and shuffles, drawn from the trainer's epoch generator."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
