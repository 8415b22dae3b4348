"""Top-K scoring of composed (CTR) models with the item side encoded once, not per request.

``RecModel.score_items`` builds a ``(user, item)`` row for every catalogue item and runs every
field encoder on it: for each request the item-side encoders (the id, genre and text
projections of 1,682 films, say) redo the same work. A field's vector depends only on that
field's columns (and the fields it ``depends_on``), so when no encoder crosses the user/item
line, the item-side vectors are computed once per catalogue version, the user-side ones once
per user, and the ``[U * N, F, D]`` pair tensor is assembled from them; only the interaction
and head (the arithmetic that really is per pair) run per request.

A model whose encoders cross roles (target attention of a history over the scored item, an
encoder reading another field's column without declaring it) is detected at construction by
comparing both paths on a few users, and keeps ``score_items``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recforge.core.model import RecModel

#: users compared against ``score_items`` before the cached path is trusted
CHECK_USERS = 2
#: (user, item) pairs per forward: activations of a few MB stay in cache (score_items' 65,536
#: pairs spill 80 MB per 300-wide layer to memory, which made a batch slower per user than one)
PAIR_CHUNK = 8192
#: largest difference accepted between the two paths (float32 arithmetic in another order)
CHECK_TOLERANCE = 1e-5


class CatalogueScorer:
    """``[U, N]`` scores of every item for users ``U``, reusing the items' field vectors.

    Args:
        model: the composed model (its lookups are the live catalogue's; call
            :meth:`invalidate` after they change).
    """

    def __init__(self, model: RecModel) -> None:
        self.model = model
        self.roles = {name: self._role(name) for name in model.slot_order}
        self._items: dict[str, Tensor] | None = None
        self._ctx: dict[str, Tensor] | None = None
        self.cached = self._separable() and self._agrees()

    def _role(self, name: str) -> str | None:
        for role in ("user", "item", "ctx"):
            if name in self.model._lookup_keys[role]:
                return role
        return None

    def _separable(self) -> bool:
        """Every encoded field has a lookup and depends only on fields of its own role."""
        encoders = self.model.encoders
        for name, role in self.roles.items():
            if role is None:
                return False
            deps = encoders[name].depends_on if name in encoders else ()
            if any(self.roles.get(dep) != role for dep in deps):
                return False
        return True

    def _agrees(self) -> bool:
        n_users = int(getattr(self.model, f"lookup_user__{self.model.user_field}").shape[0])
        users = torch.arange(min(n_users, 2 + CHECK_USERS))[2:]
        if users.numel() == 0:
            return False
        with torch.no_grad():
            want = self.model.score_items(users)
            got = self._cached_scores(users)
        self.invalidate()
        return bool(torch.allclose(got, want, atol=CHECK_TOLERANCE, rtol=0))

    def invalidate(self) -> None:
        """Forget the item vectors (items were added or updated)."""
        self._items = None

    def _encode(self, role: str, index: Tensor) -> dict[str, Tensor]:
        """Field vectors ``[len(index), slots, D]`` of every ``role`` field, by entity index."""
        model = self.model
        batch = {n: getattr(model, f"lookup_{role}__{n}")[index] for n in model._lookup_keys[role]}
        wanted = {n for n, r in self.roles.items() if r == role}
        return {n: v for n, v in model._run(batch, wanted)[1].items() if n in wanted}

    def _item_vectors(self) -> dict[str, Tensor]:
        if self._items is None:
            self._items = self._encode("item", torch.arange(self.model.num_items()))
            self._ctx = self._encode("ctx", torch.zeros(1, dtype=torch.long)) if any(
                r == "ctx" for r in self.roles.values()) else {}
        return self._items

    def _cached_scores(self, users: Tensor) -> Tensor:
        model = self.model
        items = self._item_vectors()
        ctx = self._ctx or {}
        people = self._encode("user", users)
        n_items = model.num_items()
        fused = model.fused.names if model.fused is not None else []
        slots = [n for name, a, b in model._plan for n in ([name] if name is not None else fused[a:b])]
        out = torch.empty(users.shape[0], n_items)
        per_chunk = max(1, PAIR_CHUNK // max(n_items, 1))
        for start in range(0, users.shape[0], per_chunk):
            rows = slice(start, min(start + per_chunk, users.shape[0]))
            n_u = rows.stop - rows.start
            parts = []
            for name in slots:
                role = self.roles[name]
                if role == "item":
                    parts.append(items[name].repeat(n_u, *([1] * (items[name].dim() - 1))))
                elif role == "user":
                    parts.append(people[name][rows].repeat_interleave(n_items, dim=0))
                else:
                    parts.append(ctx[name].expand(n_u * n_items, *ctx[name].shape[1:]))
            x = torch.cat(parts, dim=1)
            out[rows] = model.head.output(model.head(model.interaction(x))).view(n_u, n_items).float()
        return out

    @torch.no_grad()
    def score(self, users: Tensor) -> Tensor:
        """``[U, N]`` predictions of every (user, item) pair, as ``score_items`` gives."""
        if not self.cached:
            return self.model.score_items(users).float().cpu()
        return self._cached_scores(users)
