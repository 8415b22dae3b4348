"""The streaming loader: every row once per epoch over ranks and workers, bounded shuffle, in-order reads."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from recforge.core.data.streaming_loader import EpochPlan, ShuffleBuffer, block_rows, rebatch
from recforge.core.data.streaming_shards import write_shards
from recforge.core.data.streaming_table import ShardedTable, StreamSettings
from recforge.core.data.table import TensorTable
from recforge.core.errors import DataError

ROWS = 5_003


@pytest.fixture
def shards(tmp_path):
    """5,003 rows with an ``id`` column, a label and a ragged column, in shards of 1,200 rows
    and row groups of 250 (so ranks and workers cut through row groups and shards)."""
    ids = torch.arange(ROWS)
    lengths = ids % 3
    offsets = torch.zeros(ROWS + 1, dtype=torch.long)
    offsets[1:] = torch.cumsum(lengths, 0)
    values = torch.repeat_interleave(ids, lengths) + 2
    table = TensorTable({"id": ids, "label": (ids % 2).float()}, {"tags": (values, offsets)}, {"tags": 2})
    chunks = [table.slice(a, a + 1000) for a in range(0, ROWS, 1000)]
    write_shards(chunks, tmp_path / "train", shard_rows=1_200, row_group_rows=250)
    return tmp_path / "train"


def epoch_ids(folder, *, world: int, workers: int, buffer: int, batch: int = 64, seed: int = 5):
    """Ids each rank trains on in one epoch, and the per-step (local, global) sizes."""
    table = ShardedTable(folder, StreamSettings(buffer, workers))
    per_rank, sizes = [], []
    for rank in range(world):
        gen = torch.Generator().manual_seed(seed)
        steps = list(table.epoch_batches(gen, batch, rank=rank, world=world))
        per_rank.append(torch.cat([b["id"] for b, _, _ in steps]))
        sizes.append([(n_local, n_global) for _, n_local, n_global in steps])
        for b, n_local, _ in steps:
            assert all(int(v.shape[0]) == n_local for v in b.values())
            # ragged column still belongs to its row: row i holds id+2 (len id % 3), padded to 2
            expect = (b["id"] + 2).unsqueeze(1).expand(-1, 2) * (torch.arange(2) < (b["id"] % 3).unsqueeze(1))
            assert torch.equal(b["tags"], expect)
    return per_rank, sizes


@pytest.mark.parametrize(("world", "workers", "buffer"), [(1, 0, 0), (1, 2, 512), (3, 0, 700), (2, 2, 300)])
def test_every_row_is_seen_exactly_once_per_epoch(shards, world, workers, buffer) -> None:
    per_rank, sizes = epoch_ids(shards, world=world, workers=workers, buffer=buffer)
    seen = Counter(torch.cat(per_rank).tolist())
    assert sorted(seen) == list(range(ROWS)) and set(seen.values()) == {1}
    # every rank runs the same steps, and the ranks' parts add up to each global batch
    assert len({len(s) for s in sizes}) == 1
    for step in zip(*sizes):
        assert sum(n_local for n_local, _ in step) == step[0][1]
    assert sum(step[0][1] for step in zip(*sizes)) == ROWS


def test_epochs_shuffle_differently_and_reproducibly(shards) -> None:
    first, _ = epoch_ids(shards, world=1, workers=0, buffer=400, seed=1)
    again, _ = epoch_ids(shards, world=1, workers=0, buffer=400, seed=1)
    other, _ = epoch_ids(shards, world=1, workers=0, buffer=400, seed=2)
    assert torch.equal(first[0], again[0])
    assert not torch.equal(first[0], other[0])
    assert not torch.equal(first[0], torch.sort(first[0]).values)  # shuffled, not file order


def test_in_order_reading_views_and_columns(shards) -> None:
    table = ShardedTable(shards)
    assert table.num_rows == ROWS and table.columns == ["id", "label", "tags"]
    ids = torch.cat([b["id"] for b in table.iter_batches(333)])
    assert torch.equal(ids, torch.arange(ROWS))
    part = table.shard(1, 3)
    lo, hi = ROWS // 3, 2 * ROWS // 3
    assert torch.equal(torch.cat([b["id"] for b in part.iter_batches(100)]), torch.arange(lo, hi))
    assert torch.equal(part.dense["id"], torch.arange(lo, hi))
    assert torch.equal(table.dense["label"], (torch.arange(ROWS) % 2).float())
    pick = torch.tensor([4_000, 3, 1_250, 3])
    assert torch.equal(table.batch(pick)["id"], pick)
    with pytest.raises(DataError, match="out of range"):
        table.batch(torch.tensor([ROWS]))


def test_plan_folds_a_tail_without_a_row_per_rank() -> None:
    plan = EpochPlan(num_rows=10, batch_size=4, world=3)
    assert plan.global_sizes() == [4, 6]  # the 2-row tail cannot feed 3 ranks
    assert [plan.local_sizes(r) for r in range(3)] == [[1, 2], [1, 2], [2, 2]]
    assert [plan.rank_range(r) for r in range(3)] == [(0, 3), (3, 6), (6, 10)]
    with pytest.raises(DataError, match="fewer than the 4 processes"):
        EpochPlan(3, 2, 4).global_sizes()


def test_shuffle_buffer_holds_at_most_its_capacity() -> None:
    buffer = ShuffleBuffer(100, torch.Generator().manual_seed(0))
    out = []
    for start in range(0, 1_000, 64):
        out += list(buffer.push({"x": torch.arange(start, min(start + 64, 1_000))}))
        assert block_rows(buffer.pool or {}) <= 100
    out += list(buffer.flush())
    values = torch.cat([b["x"] for b in out])
    assert sorted(values.tolist()) == list(range(1_000))


def test_rebatch_cuts_exact_sizes_and_reports_a_short_stream() -> None:
    blocks = iter([{"x": torch.arange(5)}, {"x": torch.arange(5, 7)}, {"x": torch.arange(7, 12)}])
    assert [b["x"].tolist() for b in rebatch(blocks, [3, 3, 6])] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9, 10, 11]]
    with pytest.raises(DataError, match="short"):
        list(rebatch(iter([{"x": torch.arange(2)}]), [3]))
