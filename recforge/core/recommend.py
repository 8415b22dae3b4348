"""Top-K serving from a saved model alone: one user, every user to a file, similar items.

Everything is vectorised: users are scored in chunks with ``model.score_items`` (one batched
forward or one matrix product per chunk), padding/unknown columns and, when asked, each
user's training items (``seen.safetensors`` of the saved model) are masked to ``-inf`` with a
single scatter, and ``torch.topk`` picks the winners.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from recforge.core.data.schema import FIRST
from recforge.core.errors import ConfigError, NotFoundError
from recforge.core.saved_model import LoadedModel
from recforge.core.text_neighbours import text_vectors_of

USER_CHUNK = 256


class Recommender:
    """Top-K recommendations and similar items from a :class:`LoadedModel`.

    Args:
        loaded: the result of :func:`recforge.core.saved_model.load_model`.

    Example:
        rec = Recommender(load_model(run_dir / "model"))
        rec.recommend("196", k=10, exclude_seen=True)
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.data = loaded.data
        if not self.data.user_field or not self.data.item_field:
            raise ConfigError("this model has no user and item id fields, so it cannot recommend",
                              fix="declare fields with role user and role item")

    # ------------------------------------------------------------------ ids
    def user_index(self, raw: Any) -> int:
        """Index of a raw user id; unknown users fail with the fix."""
        idx = int(self.data.featuremap.index_of(self.data.user_field, [str(raw)])[0])
        if idx < FIRST:
            raise NotFoundError(f"user '{raw}' is not in the model's training data",
                                fix="pass a user id that appears in the training split")
        return idx

    def item_index(self, raw: Any) -> int:
        idx = int(self.data.featuremap.index_of(self.data.item_field, [str(raw)])[0])
        if idx < FIRST:
            raise NotFoundError(f"item '{raw}' is not in the model's vocabulary",
                                fix="pass an item id that appears in the training split")
        return idx

    def describe(self, index: int, score: float) -> dict[str, Any]:
        """One result row: raw item id, score and display metadata (e.g. title)."""
        ids = self.loaded.item_ids
        row: dict[str, Any] = {"item": ids[index] if index < len(ids) else None, "score": float(score)}
        for col, values in self.loaded.item_meta.items():
            row[col] = values[index] if index < len(values) else None
        return row

    # ------------------------------------------------------------------ masking
    def _seen_mask(self, users: Tensor, num_items: int) -> tuple[Tensor, Tensor]:
        """(row, column) coordinates of each user's training items (one vectorised gather)."""
        indptr, indices = self.loaded.seen_indptr, self.loaded.seen_indices
        users = users.clamp(max=indptr.shape[0] - 2)
        starts, ends = indptr[users], indptr[users + 1]
        counts = ends - starts
        rows = torch.repeat_interleave(torch.arange(users.shape[0]), counts)
        offsets = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        cols = indices[torch.repeat_interleave(starts, counts) + offsets]
        keep = cols < num_items
        return rows[keep], cols[keep]

    @torch.no_grad()
    def top_k(self, users: Tensor, k: int, exclude_seen: bool = False) -> tuple[Tensor, Tensor]:
        """``(scores [U, k], item indices [U, k])`` for user indices, best first."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}", fix="pass -k 10")
        scores_out, items_out = [], []
        for start in range(0, users.shape[0], USER_CHUNK):
            chunk = users[start:start + USER_CHUNK]
            try:
                scores = self.model.score_items(chunk).float().cpu()
            except NotImplementedError:
                raise ConfigError(f"model '{type(self.model).__name__}' cannot score every item for a user",
                                  fix="train a model with user and item fields") from None
            scores[:, :FIRST] = -torch.inf
            if exclude_seen:
                rows, cols = self._seen_mask(chunk, scores.shape[1])
                scores[rows, cols] = -torch.inf
            kk = min(k, scores.shape[1])
            values, index = torch.topk(scores, kk, dim=1)
            scores_out.append(values)
            items_out.append(index)
        return torch.cat(scores_out), torch.cat(items_out)

    def recommend(self, user: Any, k: int = 10, exclude_seen: bool = False) -> list[dict[str, Any]]:
        """Top-``k`` items for one raw user id (``-inf`` slots, when too few items are left, dropped)."""
        values, index = self.top_k(torch.tensor([self.user_index(user)]), k, exclude_seen)
        return [{"rank": r + 1, **self.describe(int(i), float(v))}
                for r, (v, i) in enumerate(zip(values[0], index[0])) if torch.isfinite(v)]

    def recommend_all(self, out: str | Path, k: int = 10, exclude_seen: bool = False) -> int:
        """Top-``k`` for every known user written to ``out`` (``.csv`` or ``.jsonl``); returns rows."""
        out = Path(out)
        fmt = out.suffix.lower()
        if fmt not in (".csv", ".jsonl"):
            raise ConfigError(f"cannot write recommendations to '{out.name}'", fix="use a .csv or .jsonl file name")
        n_users = int(self.loaded.seen_indptr.shape[0] - 1) or int(self.data.fields[self.data.user_field].vocab_size)
        users = torch.arange(FIRST, n_users)
        raw_users = self.data.featuremap.raw_of(self.data.user_field, users)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh) if fmt == ".csv" else None
            if writer:
                writer.writerow(["user", "rank", "item", "score"])
            for start in range(0, users.shape[0], USER_CHUNK * 4):
                chunk = users[start:start + USER_CHUNK * 4]
                values, index = self.top_k(chunk, k, exclude_seen)
                item_ids = self.loaded.item_ids
                for j in range(chunk.shape[0]):
                    user = raw_users[start + j]
                    finite = torch.isfinite(values[j])
                    items = [item_ids[i] for i in index[j][finite].tolist()]
                    scores = [round(s, 6) for s in values[j][finite].tolist()]
                    if writer:
                        writer.writerows([user, r + 1, it, s] for r, (it, s) in enumerate(zip(items, scores)))
                    else:
                        fh.write(json.dumps({"user": user, "items": items, "scores": scores}, ensure_ascii=False) + "\n")
                    rows += 1
        return rows

    @torch.no_grad()
    def similar(self, item: Any, k: int = 10, by: str = "learned") -> list[dict[str, Any]]:
        """The ``k`` items whose vectors are closest (cosine) to ``item``'s.

        Args:
            item: a raw item id.
            k: how many neighbours.
            by: ``learned`` (the model's item vectors) or ``text`` (the language model's own
                vectors of the item text, see :mod:`recforge.core.text_neighbours`).
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}", fix="pass -k 10")
        idx = self.item_index(item)
        try:
            if by == "text":
                vectors = text_vectors_of(self.model)
            else:
                vectors = self.model.item_vectors()
        except (NotImplementedError, TypeError):
            raise ConfigError(f"model '{type(self.model).__name__}' has no {by} item vectors",
                              fix="use --by learned, or a model with item vectors") from None
        vectors = torch.nn.functional.normalize(vectors.float().cpu(), dim=1)
        sims = vectors @ vectors[idx]
        sims[:FIRST] = -torch.inf
        sims[idx] = -torch.inf
        values, index = torch.topk(sims, min(k, sims.shape[0]))
        return [{"rank": r + 1, **self.describe(int(i), float(v))}
                for r, (v, i) in enumerate(zip(values, index)) if torch.isfinite(v)]
