"""TensorTable: batches equal a slow row-by-row reference; shards are views; persistence."""

from __future__ import annotations

import torch

from recforge.core.data.table import TensorTable, concat_tables


def _table() -> TensorTable:
    lists = [[5, 6, 7], [], [8], [9, 10, 11, 12], [13, 14]]
    values = torch.tensor([v for row in lists for v in row])
    offsets = torch.tensor([0, 3, 3, 4, 8, 10])
    return TensorTable({"x": torch.arange(5) * 10, "v": torch.arange(10.0).reshape(5, 2)}, {"h": (values, offsets)}, {"h": 3}), lists


def _reference(lists: list[list[int]], index: list[int], length: int) -> list[list[int]]:
    out = []
    for i in index:  # the slow row-by-row reference
        row = lists[i][:length]
        out.append(row + [0] * (length - len(row)))
    return out


def test_batch_matches_row_by_row_reference() -> None:
    table, lists = _table()
    index = [4, 0, 1, 3, 3]
    batch = table.batch(torch.tensor(index))
    assert batch["h"].tolist() == _reference(lists, index, 3)
    assert batch["x"].tolist() == [40, 0, 10, 30, 30]
    assert batch["v"].shape == (5, 2)


def test_iter_batches_cover_every_row_once_and_seed_reproduces() -> None:
    table, _ = _table()
    seen = torch.cat([b["x"] for b in table.iter_batches(2, shuffle=True, generator=torch.Generator().manual_seed(3))])
    assert sorted(seen.tolist()) == [0, 10, 20, 30, 40]
    again = torch.cat([b["x"] for b in table.iter_batches(2, shuffle=True, generator=torch.Generator().manual_seed(3))])
    assert torch.equal(seen, again)
    assert sum(1 for _ in table.iter_batches(2, drop_last=True)) == 2


def test_shard_is_a_view_and_partitions_rows() -> None:
    table, lists = _table()
    shards = [table.shard(r, 2) for r in range(2)]
    assert [s.num_rows for s in shards] == [2, 3]
    assert shards[1].dense["x"].data_ptr() == table.dense["x"][2:].data_ptr()
    assert shards[1].batch(torch.tensor([1]))["h"].tolist() == _reference(lists, [3], 3)


def test_take_concat_and_save_roundtrip(tmp_path) -> None:
    table, lists = _table()
    both = concat_tables([table.take(torch.tensor([3, 0])), table.shard(1, 2)])
    assert both.batch(torch.arange(5))["h"].tolist() == _reference(lists, [3, 0, 2, 3, 4], 3)
    table.save(tmp_path / "t.safetensors")
    back = TensorTable.load(tmp_path / "t.safetensors")
    idx = torch.arange(5)
    for key, value in table.batch(idx).items():
        assert torch.equal(back.batch(idx)[key], value)
    assert back.nbytes == table.nbytes == 5 * 8 + 10 * 4 + 10 * 8 + 6 * 8
