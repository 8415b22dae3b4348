"""Streaming an epoch: which rows each rank and loader worker reads, a bounded shuffle, batches.

Every row is read exactly once per epoch, whatever the number of DDP ranks and DataLoader
workers:

1. :class:`EpochPlan` cuts the epoch into global batches of ``batch_size`` rows (a last
   batch too small to give every rank a row joins the one before it) and rank ``r`` owns the
   ``r``-th part of each (:func:`recforge.core.distributed.shard_bounds` sizes). The rows a
   rank consumes over the epoch therefore add up to a count known on every rank without
   communication, and every rank runs the same number of steps (DDP needs that).
2. The epoch's seed permutes the row groups (:class:`~recforge.core.data.streaming_shards.Unit`)
   -- the same order on every rank -- and rank ``r`` reads the ``r``-th contiguous row range
   of that order; its loader workers split that range again into contiguous parts.
3. Each worker passes its rows through a :class:`ShuffleBuffer` of bounded size, and the
   main process cuts the interleaved blocks into the plan's batch sizes (:func:`rebatch`).

Memory per worker: one row group being read plus ``shuffle_buffer / workers`` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from recforge.core.data.streaming_shards import ShardManifest, ShardReader, Unit
from recforge.core.data.table import TensorTable
from recforge.core.errors import DataError

Block = dict[str, Tensor]


def block_rows(block: Block) -> int:
    return int(next(iter(block.values())).shape[0]) if block else 0


def padded(table: TensorTable) -> Block:
    """All rows of a table as a batch (ragged columns padded), without copying dense ones."""
    out: Block = dict(table.dense)
    if table.ragged:
        every = torch.arange(table.num_rows)
        out.update({name: table.gather_ragged(name, every) for name in table.ragged})
    return out


def part(size: int, rank: int, world: int) -> int:
    """Rows of a ``size``-row global batch that rank ``rank`` of ``world`` takes."""
    return size * (rank + 1) // world - size * rank // world


@dataclass(frozen=True)
class EpochPlan:
    """Global batch sizes of an epoch of ``num_rows`` rows and each rank's share of them.

    Example:
        >>> EpochPlan(10, 4, 1).global_sizes()
        [4, 6]
        >>> EpochPlan(10, 4, 2).local_sizes(1)
        [2, 3]
    """

    num_rows: int
    batch_size: int
    world: int = 1

    def global_sizes(self) -> list[int]:
        if self.num_rows < self.world:
            raise DataError(f"the split has {self.num_rows} rows, fewer than the {self.world} processes",
                            fix="train on more rows or with fewer processes")
        full, last = divmod(self.num_rows, self.batch_size)
        sizes = [self.batch_size] * full + ([last] if last else [])
        if len(sizes) > 1 and sizes[-1] < self.world:  # a tail without a row for every rank
            tail = sizes.pop()
            sizes[-1] += tail
        return sizes

    def steps(self) -> int:
        return len(self.global_sizes())

    def local_sizes(self, rank: int) -> list[int]:
        return [part(size, rank, self.world) for size in self.global_sizes()]

    def rank_range(self, rank: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of the epoch's row order that rank ``rank`` consumes."""
        sizes = np.asarray(self.global_sizes(), dtype=np.int64)
        counts = [int((sizes * (r + 1) // self.world - sizes * r // self.world).sum()) for r in range(self.world)]
        lo = sum(counts[:rank])
        return lo, lo + counts[rank]


def unit_order(units: list[Unit], seed: int | None) -> list[Unit]:
    """The units in the epoch's order: a permutation from ``seed`` (file order when None)."""
    if seed is None:
        return list(units)
    perm = np.random.default_rng(seed).permutation(len(units))
    return [units[i] for i in perm]


class ShuffleBuffer:
    """Bounded shuffle: holds at most ``capacity`` rows; each push emits the overflow, drawn
    uniformly from everything held (so a row leaves after a geometric-like wait).

    Example:
        >>> buf = ShuffleBuffer(4, torch.Generator().manual_seed(0))
        >>> sum(block_rows(b) for b in buf.push({"x": torch.arange(6)}))
        2
    """

    def __init__(self, capacity: int, generator: torch.Generator) -> None:
        self.capacity = max(0, int(capacity))
        self.generator = generator
        self.pool: Block | None = None

    def push(self, block: Block) -> Iterator[Block]:
        pool = block if self.pool is None else {k: torch.cat([self.pool[k], v]) for k, v in block.items()}
        n = block_rows(pool)
        if n <= self.capacity:
            self.pool = pool
            return
        perm = torch.randperm(n, generator=self.generator)
        out, keep = perm[: n - self.capacity], perm[n - self.capacity:]
        yield {k: v.index_select(0, out) for k, v in pool.items()}
        self.pool = {k: v.index_select(0, keep) for k, v in pool.items()} if self.capacity else None

    def flush(self) -> Iterator[Block]:
        if self.pool is not None and block_rows(self.pool):
            perm = torch.randperm(block_rows(self.pool), generator=self.generator)
            yield {k: v.index_select(0, perm) for k, v in self.pool.items()}
        self.pool = None


class RowRangeStream(IterableDataset):  # type: ignore[type-arg]
    """Rows ``[lo, hi)`` of ``order`` (a unit order) as shuffled blocks, split over loader workers.

    Args:
        folder / manifest: the split's shards.
        order: the epoch's unit order.
        lo / hi: this rank's row range of that order.
        shuffle_buffer: rows held for shuffling, shared by the workers (0 = shuffle only
            within each row group); None = no shuffle at all (evaluation order).
        seed: seeds each worker's shuffle (``seed + worker``).
        columns: read only these columns (None = all).
    """

    def __init__(self, folder: Path, manifest: ShardManifest, order: list[Unit], lo: int, hi: int,
                 shuffle_buffer: int | None, seed: int, columns: list[str] | None = None) -> None:
        super().__init__()
        self.folder, self.manifest, self.order = folder, manifest, order
        self.lo, self.hi, self.shuffle_buffer, self.seed, self.columns = lo, hi, shuffle_buffer, seed, columns

    def __iter__(self) -> Iterator[Block]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        span = self.hi - self.lo
        lo, hi = self.lo + span * worker // workers, self.lo + span * (worker + 1) // workers
        reader = ShardReader(self.folder, self.manifest)
        pieces = (padded(reader.read(u, a, b, self.columns)) for u, a, b in reader.ranges(self.order, lo, hi))
        if self.shuffle_buffer is None:
            yield from pieces
            return
        buffer = ShuffleBuffer(self.shuffle_buffer // workers, torch.Generator().manual_seed(self.seed + worker))
        for piece in pieces:
            yield from buffer.push(piece)
        yield from buffer.flush()


def rebatch(blocks: Iterator[Block], sizes: list[int]) -> Iterator[Block]:
    """Cut a stream of blocks into batches of exactly ``sizes`` rows (views where possible)."""
    pending: list[Block] = []
    have = 0
    for size in sizes:
        while have < size:
            block = next(blocks, None)
            if block is None:
                raise DataError(f"the shard stream ended {size - have} rows short of a batch",
                                fix="prepare the data again (a shard file was changed or truncated)")
            if block_rows(block):
                pending.append(block)
                have += block_rows(block)
        joined = pending[0] if len(pending) == 1 else {k: torch.cat([b[k] for b in pending]) for k in pending[0]}
        yield {k: v[:size] for k, v in joined.items()}
        have -= size
        pending = [{k: v[size:] for k, v in joined.items()}] if have else []


def stream_blocks(dataset: RowRangeStream, workers: int) -> Iterator[Block]:
    """The dataset's blocks, read by ``workers`` DataLoader processes, or with ``workers=0`` by
    one reader thread of this process (Parquet decoding and the shuffle release the GIL, so
    reading overlaps the training step instead of stalling it)."""
    if workers <= 0:
        return read_ahead(iter(dataset), depth=2)
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=None, num_workers=workers, prefetch_factor=2)
    return iter(loader)


def read_ahead(blocks: Iterator[Block], depth: int) -> Iterator[Block]:
    """``blocks`` produced by a daemon thread at most ``depth`` blocks ahead of the consumer;
    an error in the thread is raised here, and a consumer that stops early stops the thread."""
    import queue
    import threading

    box: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for block in blocks:
                while not stop.is_set():
                    try:
                        box.put(("block", block), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(("end", None))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            box.put(("error", err))

    thread = threading.Thread(target=produce, name="recforge-shard-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            yield item  # type: ignore[misc]
    finally:
        stop.set()
