"""Fusing plain categorical fields into one embedding lookup per step.

One ``F.embedding`` over a ``[B, F]`` index tensor replaces F separate lookups, stacks and
their backward passes (see :class:`recforge.plugins.encoders.categorical.FusedLookup`); the
model assembly decides here which fields qualify and how the fused slots interleave with the
other encoders' slots.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from recforge.core.components import Encoder, SharedTables


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
    from recforge.plugins.encoders.categorical import FusedLookup

    users: dict[int, int] = {}
    for enc in encoders.values():
        for module in {id(m): m for m in enc.modules() if isinstance(m, nn.Embedding)}.values():
            users[id(module)] = users.get(id(module), 0) + 1
    needed = {dep for enc in encoders.values() for dep in (getattr(enc, "depends_on", ()) or ())}
    keys = {id(t): k for k, t in tables.tables.items()}
    prefixes = list(lr_groups)

    def named(path: str) -> bool:
        return any(path == p or path.startswith(p + ".") or p.startswith(path + ".") for p in prefixes)

    chosen = [name for name, enc in encoders.items()
              if getattr(enc, "fusable", False) and users.get(id(enc.table)) == 1 and name not in needed
              and id(enc.table) in keys and not named(f"encoders.{name}")
              and not named(f"shared_tables.{keys[id(enc.table)]}")]
    if len(chosen) < 2:
        return encoders, None
    fused = FusedLookup(chosen, [encoders[name].table for name in chosen])
    for name in chosen:
        del tables.tables[keys[id(encoders[name].table)]]
    return {n: e for n, e in encoders.items() if n not in chosen}, fused
