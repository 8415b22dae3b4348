"""TensorTable: a columnar table of tensors that produces batches by vectorised gathers.

Every column is one contiguous tensor: ``[N]`` or ``[N, d]`` for fixed-width fields, and
``values`` + ``offsets`` (``[N + 1]``) for ragged fields (multi-valued and sequence fields).
A batch is ``column[index]`` for each dense column and a single masked gather for each ragged
column, so batching costs a handful of tensor ops whatever the batch size; there is no
per-row Python. Offsets are absolute positions into ``values``, which lets :meth:`shard` and
:meth:`slice` return views that share memory with the parent table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from recforge.core.errors import DataError


class TensorTable:
    """Rows of already-indexed fields, stored column-wise as tensors.

    Args:
        dense: fixed-width columns, each ``[N]`` or ``[N, d]``.
        ragged: variable-length columns as ``(values, offsets)``; row ``i`` holds
            ``values[offsets[i]:offsets[i + 1]]``.
        max_len: padded length ``L`` of each ragged column in batches (longer rows are cut
            to their first ``L`` values; recipes that want the most recent items of a history
            truncate before tensorising).

    Example:
        >>> t = TensorTable({"x": torch.arange(4)}, {"h": (torch.tensor([5, 6, 7]), torch.tensor([0, 2, 2, 3, 3]))}, {"h": 2})
        >>> t.batch(torch.tensor([0, 2]))["h"].tolist()
        [[5, 6], [7, 0]]
    """

    def __init__(
        self,
        dense: dict[str, Tensor],
        ragged: dict[str, tuple[Tensor, Tensor]] | None = None,
        max_len: dict[str, int] | None = None,
    ) -> None:
        self.dense = dict(dense)
        self.ragged = dict(ragged or {})
        self.max_len = dict(max_len or {})
        sizes = {name: int(col.shape[0]) for name, col in self.dense.items()}
        sizes.update({name: int(off.shape[0]) - 1 for name, (_, off) in self.ragged.items()})
        if len(set(sizes.values())) > 1:
            raise DataError(f"TensorTable columns disagree on the row count: {sizes}", fix="build every column from the same frame")
        self._num_rows = next(iter(sizes.values()), 0)
        for name in self.ragged:
            self.max_len.setdefault(name, self._longest(name))

    # ------------------------------------------------------------------ basics
    @property
    def num_rows(self) -> int:
        return self._num_rows

    def __len__(self) -> int:
        return self._num_rows

    @property
    def columns(self) -> list[str]:
        return [*self.dense, *self.ragged]

    def __contains__(self, name: str) -> bool:
        return name in self.dense or name in self.ragged

    def __repr__(self) -> str:
        return f"TensorTable(rows={self.num_rows}, columns={self.columns})"

    def _longest(self, name: str) -> int:
        _, off = self.ragged[name]
        return int((off[1:] - off[:-1]).max()) if off.numel() > 1 else 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the tensors themselves (views count their own extent)."""
        total = sum(col.element_size() * col.numel() for col in self.dense.values())
        for values, offsets in self.ragged.values():
            total += values.element_size() * values.numel() + offsets.element_size() * offsets.numel()
        return total

    # ------------------------------------------------------------------ batches
    def gather_ragged(self, name: str, index: Tensor) -> Tensor:
        """Rows ``index`` of ragged column ``name`` as a 0-padded ``[B, L]`` tensor.

        One ``[B, L]`` gather of positions ``start + 0..L-1``, clamped into range and then
        blanked past each row's length. ``index_select`` rather than advanced indexing: on
        large tables the gathers are cache-miss bound and ``index_select`` runs a tight loop
        several times faster than the general indexing machinery.
        """
        values, offsets = self.ragged[name]
        length = self.max_len[name]
        batch = index.shape[0]
        if length == 0 or values.numel() == 0:
            return torch.zeros((batch, length), dtype=values.dtype)
        starts = offsets.index_select(0, index)
        lens = offsets[1:].index_select(0, index).sub_(starts)
        pos = torch.arange(length, dtype=offsets.dtype)
        where = (starts.unsqueeze(1) + pos).clamp_(max=values.numel() - 1)
        out = values.index_select(0, where.view(-1)).view(batch, length)
        out.masked_fill_(pos >= lens.unsqueeze(1), 0)
        return out

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        """The rows at ``index`` (a LongTensor) as ``{column: tensor}``, ragged ones padded."""
        index = torch.as_tensor(index, dtype=torch.long)
        if index.dim() != 1:  # not the hot path: keep plain indexing semantics
            return {name: col[index] for name, col in self.dense.items()} | {name: self.gather_ragged(name, index.reshape(-1)) for name in self.ragged}
        out = {name: col.index_select(0, index) for name, col in self.dense.items()}
        for name in self.ragged:
            out[name] = self.gather_ragged(name, index)
        return out

    def iter_batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[dict[str, Tensor]]:
        """Yield batches: index slices of one permutation (or of ``arange`` when not shuffled)."""
        if batch_size <= 0:
            raise DataError(f"batch_size must be positive, got {batch_size}", fix="set train.batch_size >= 1")
        n = self.num_rows
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield self.batch(order[start : start + batch_size])

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        return self.num_rows // batch_size if drop_last else -(-self.num_rows // batch_size)

    # ------------------------------------------------------------------ views
    def slice(self, start: int, stop: int) -> TensorTable:
        """Rows ``start:stop`` as a view (no copy: ragged offsets stay absolute)."""
        start, stop = max(0, start), min(self.num_rows, stop)
        stop = max(start, stop)
        dense = {name: col[start:stop] for name, col in self.dense.items()}
        ragged = {name: (val, off[start : stop + 1]) for name, (val, off) in self.ragged.items()}
        return TensorTable(dense, ragged, self.max_len)

    def shard(self, rank: int, world_size: int) -> TensorTable:
        """Contiguous shard ``rank`` of ``world_size`` (sizes differ by at most one row)."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise DataError(f"bad shard rank {rank} of world size {world_size}", fix="use 0 <= rank < world_size")
        n = self.num_rows
        bounds = [n * r // world_size for r in range(world_size + 1)]
        return self.slice(bounds[rank], bounds[rank + 1])

    def take(self, index: Tensor) -> TensorTable:
        """A new, compact table holding rows ``index`` (copies; ragged kept ragged)."""
        index = torch.as_tensor(index, dtype=torch.long)
        dense = {name: col[index].contiguous() for name, col in self.dense.items()}
        ragged = {}
        for name, (values, offsets) in self.ragged.items():
            starts = offsets[index]
            lens = offsets[index + 1] - starts
            new_off = torch.zeros(index.numel() + 1, dtype=offsets.dtype)
            torch.cumsum(lens, 0, out=new_off[1:])
            row = torch.repeat_interleave(torch.arange(index.numel()), lens)
            pos = torch.arange(int(new_off[-1])) - new_off[row] + starts[row]
            ragged[name] = (values[pos].contiguous(), new_off)
        return TensorTable(dense, ragged, self.max_len)

    def with_columns(self, dense: dict[str, Tensor]) -> TensorTable:
        """A table sharing these columns plus extra dense columns of the same length."""
        return TensorTable({**self.dense, **dense}, self.ragged, self.max_len)

    # ------------------------------------------------------------------ persistence
    def to_flat(self) -> dict[str, Tensor]:
        """Flat ``{key: tensor}`` for safetensors (contiguous, shard views compacted)."""
        if self.ragged and any(off.numel() and int(off[0]) != 0 for _, off in self.ragged.values()):
            return self.take(torch.arange(self.num_rows)).to_flat()
        flat = {f"dense.{k}": v.contiguous() for k, v in self.dense.items()}
        for k, (val, off) in self.ragged.items():
            flat[f"values.{k}"] = val.contiguous()
            flat[f"offsets.{k}"] = off.contiguous()
        return flat

    @classmethod
    def from_flat(cls, flat: dict[str, Tensor], max_len: dict[str, int]) -> TensorTable:
        dense = {k[6:]: v for k, v in flat.items() if k.startswith("dense.")}
        ragged = {k[7:]: (v, flat[f"offsets.{k[7:]}"]) for k, v in flat.items() if k.startswith("values.")}
        return cls(dense, ragged, max_len)

    def save(self, path: str | Path) -> None:
        """Write the tensors as safetensors (never pickle) with ``max_len`` in the metadata."""
        import json

        from safetensors.torch import save_file

        save_file(self.to_flat(), str(path), metadata={"max_len": json.dumps(self.max_len), "rows": str(self.num_rows)})

    @classmethod
    def load(cls, path: str | Path) -> TensorTable:
        import json

        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            flat = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        table = cls.from_flat(flat, json.loads(meta.get("max_len", "{}")))
        if not flat:
            table._num_rows = int(meta.get("rows", 0))
        return table


def concat_tables(tables: list[TensorTable]) -> TensorTable:
    """Rows of several tables with the same columns, one after another (copies)."""
    first = tables[0]
    dense = {name: torch.cat([t.dense[name] for t in tables]) for name in first.dense}
    ragged = {}
    for name in first.ragged:
        parts = [t.take(torch.arange(t.num_rows)).ragged[name] if t.ragged[name][1].numel() and int(t.ragged[name][1][0]) else t.ragged[name] for t in tables]
        values = torch.cat([v for v, _ in parts])
        shifts = torch.tensor([0] + [int(o[-1]) for _, o in parts[:-1]]).cumsum(0)
        offsets = torch.cat([parts[0][1][:1]] + [o[1:] + s for (_, o), s in zip(parts, shifts)])
        ragged[name] = (values, offsets)
    return TensorTable(dense, ragged, first.max_len)
