"""Fusing plain embedding-lookup fields into one embedding lookup per step.

A composed model with F categorical fields used to run F ``nn.Embedding`` lookups, F
embedding backwards and a stack/cat of F ``[B, 1, D]`` vectors per step. :class:`FusedLookup`
holds the rows of all those tables in one ``nn.Embedding`` and maps a ``[B, F]`` index matrix
to ``[B, F, D]`` with one ``F.embedding``. Encoders opt in by declaring ``fusable`` (see
:class:`recforge.core.components.Encoder`); the model assembly decides here which fields
qualify and how the fused slots interleave with the other encoders' slots.

Row layout: row 0 is the one shared padding row (``padding_idx=0``: always zero, never
updated, exactly like each field's own padding row before), then field ``f``'s rows for its
indices ``1 .. V_f - 1`` (unknown first). A field index ``i > 0`` lands at ``i + base_f``;
index 0 (padding) lands at row 0. The initial rows are copied from the per-field tables, so
a fused model computes bit-for-bit what the unfused one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables
from recforge.core.data.schema import PAD
from recforge.core.errors import DataError


def slot_plan(order: list[str], fused: list[str]) -> list[tuple[str | None, int, int]]:
    """``field_vectors``' pieces: ``(name, 0, 0)`` per encoder, ``(None, a, b)`` per fused run."""
    plan: list[tuple[str | None, int, int]] = []
    for name in order:
        if name not in fused:
            plan.append((name, 0, 0))
            continue
        j = fused.index(name)
        if plan and plan[-1][0] is None and plan[-1][2] == j:
            plan[-1] = (None, plan[-1][1], j + 1)
        else:
            plan.append((None, j, j + 1))
    return plan


def fuse_lookups(encoders: dict[str, Encoder], tables: SharedTables,
                 lr_groups: Iterable[str] = ()) -> tuple[dict[str, Encoder], nn.Module | None]:
    """Move plain categorical fields into one :class:`FusedLookup` (one lookup per step).

    A field qualifies when its encoder is a plain ``categorical`` (no hashing, no id
    dropout), its table serves no other field, no encoder depends on it and no
    ``train.lr_groups`` prefix names its encoder or table (so per-prefix learning rates keep
    their meaning). Fewer than two such fields: nothing changes.

    Returns:
        the remaining encoders and the fused lookup (or None).
    """
    users: dict[int, int] = {}
    for enc in encoders.values():
        for module in {id(m): m for m in enc.modules() if isinstance(m, nn.Embedding)}.values():
            users[id(module)] = users.get(id(module), 0) + 1
    needed = {dep for enc in encoders.values() for dep in enc.depends_on}
    keys = {id(t): k for k, t in tables.tables.items()}
    prefixes = list(lr_groups)

    def named(path: str) -> bool:
        return any(path == p or path.startswith(p + ".") or p.startswith(path + ".") for p in prefixes)

    chosen = [name for name, enc in encoders.items()
              if enc.fusable and users.get(id(enc.table)) == 1 and name not in needed
              and id(enc.table) in keys and not named(f"encoders.{name}")
              and not named(f"shared_tables.{keys[id(enc.table)]}")]
    if len(chosen) < 2:
        return encoders, None
    fused = FusedLookup(chosen, [encoders[name].table for name in chosen],
                        sorted({type(encoders[name]).name for name in chosen}))
    for name in chosen:
        del tables.tables[keys[id(encoders[name].table)]]
    return {n: e for n, e in encoders.items() if n not in chosen}, fused


class _GatherRows(torch.autograd.Function):
    """Row gather whose backward is one ``index_add_`` (CPU only).

    CPU's ``embedding_dense_backward`` sorts the indices first and was ~4x slower than a
    plain deterministic ``index_add_`` on a ``[4096 x 7]`` batch; padding row 0 gets no
    gradient, as with ``padding_idx=0``.
    """

    @staticmethod
    def forward(ctx: Any, weight: Tensor, rows: Tensor) -> Tensor:
        ctx.save_for_backward(rows)
        ctx.num_rows = weight.shape[0]
        return weight.index_select(0, rows.reshape(-1)).view(*rows.shape, weight.shape[1])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (rows,) = ctx.saved_tensors
        dim = grad.shape[-1]
        grad_weight = grad.new_zeros(ctx.num_rows, dim)
        grad_weight.index_add_(0, rows.reshape(-1), grad.reshape(-1, dim))
        grad_weight[PAD] = 0
        return grad_weight, None


def gather_rows(table: nn.Embedding, index: Tensor) -> Tensor:
    """``table(index)`` (padding row 0 gets no gradient), with :class:`_GatherRows`'s faster
    backward when training on CPU."""
    if index.device.type == "cpu" and torch.is_grad_enabled() and table.weight.requires_grad:
        return _GatherRows.apply(table.weight, index)
    return F.embedding(index, table.weight, padding_idx=PAD)


class FusedLookup(nn.Module):
    """``[B, F]`` indices of several categorical fields -> ``[B, F, D]`` in one lookup.

    Args:
        names: the fields, in the order of the output's slot axis.
        tables: each field's own (freshly initialised) table; their rows are copied in.
        components: the encoder components the fields came from.

    Example:
        fused = FusedLookup(["user_id", "gender"], [user_table, gender_table])
        vectors = fused(batch)  # [B, 2, D]
    """

    def __init__(self, names: Sequence[str], tables: Sequence[nn.Embedding],
                 components: Sequence[str] = ("categorical",)) -> None:
        super().__init__()
        self.names = list(names)
        #: names of the encoder components whose lookups were fused (recorded with the run)
        self.components = list(components)
        sizes = [t.num_embeddings for t in tables]
        dim = tables[0].embedding_dim
        starts = torch.tensor([1 + sum(s - 1 for s in sizes[:j]) for j in range(len(sizes))])
        self.register_buffer("base", starts - 1, persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes), persistent=False)
        rows = [torch.zeros(1, dim)] + [t.weight.detach()[1:] for t in tables]
        self.table = nn.Embedding(1 + sum(s - 1 for s in sizes), dim, padding_idx=PAD)
        with torch.no_grad():
            self.table.weight.copy_(torch.cat(rows))

    def forward(self, batch: dict[str, Tensor], names: Sequence[str] | None = None) -> Tensor:
        """``[B, len(names), D]`` vectors of ``names`` (default: every fused field, in order)."""
        names = self.names if names is None else list(names)
        base = self.base if names == self.names else self.base[[self.names.index(n) for n in names]]
        try:
            idx = torch.stack([batch[name] for name in names], dim=1).long()
        except KeyError as err:
            raise DataError(f"batch has no column {err} (has: {', '.join(sorted(batch)) or 'none'})",
                            fix="check the data config declares this field") from None
        rows = (idx + base) * (idx != PAD)  # padding -> the shared zero row 0
        return gather_rows(self.table, rows)

    def field_weight(self, name: str) -> Tensor:
        """Field ``name``'s table as it would be unfused (``[V, D]``, padding row 0 first)."""
        j = self.names.index(name)
        start, size = int(self.base[j]) + 1, int(self.sizes[j])
        return torch.cat([self.table.weight[:1], self.table.weight[start:start + size - 1]])
