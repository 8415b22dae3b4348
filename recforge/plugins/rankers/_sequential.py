"""Shared machinery of the next-item rankers (``popular``, ``sasrec``, ``gru4rec``).

Next-item data (e.g. the ``amazon-seq`` recipe) gives each row a history -- a ``sequence``
field over the item vocabulary, oldest first, right-padded -- and the next item. These rankers
answer ``score_rows(batch) -> [B, I]`` (``eval.protocol: rows``): every row ranks the whole
catalogue from its own history, so users never seen in training are ranked too.

Item representations come from the item-role fields through the usual encoders
(:class:`recforge.plugins.rankers._features.EntityFeatures`): the item id alone (the classic
models), id + text (a text field of the item, e.g. a ``text-lm`` title), or text only
(UniSRec-style: every item, unseen ones included, is represented by its text, so the model
transfers to items that never occurred in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recforge.core.components import param
from recforge.core.data.schema import FIRST, PAD
from recforge.core.errors import ConfigError, DataError
from recforge.core.data.interactions import id_fields
from recforge.plugins.rankers._base import StandaloneRanker, embedding_dim
from recforge.plugins.rankers._features import EntityFeatures

SEQUENCE_LOSSES = ("softmax", "sampled")


@dataclass
class SequentialParams:
    """Parameters every next-item ranker shares (its own ones extend these)."""

    dropout: float = param(0.2, "dropout on the input item vectors (and inside the blocks)")
    loss: str = param("softmax", "softmax (full catalogue) or sampled (uniform negatives)")
    num_negatives: int = param(100, "sampled loss: negatives shared by the batch")
    item_fields: list[str] = param([], "item fields summed into the item vectors ([] = the item id)")  # noqa: RUF009
    history_field: str = param("", "history sequence field ('' = the one over the item vocabulary)")


def history_field(prepared: Any, item_field: str, name: str) -> Any:
    """The history field: ``name`` if given, else the one sequence field over the item vocabulary."""
    from recforge.core.model import fields_of

    fields = fields_of(prepared)
    if name:
        if name not in fields:
            raise ConfigError(f"history field '{name}' is not a data field",
                              fix=f"name one of {', '.join(sorted(fields))}")
        info = fields[name]
    else:
        found = [f for f in fields.values() if f.kind == "sequence" and f.vocab_key == fields[item_field].vocab_key]
        if not found:
            raise DataError("the data has no history: no sequence field over the item vocabulary",
                            fix=f"declare a sequence field with vocab_from: {item_field}, e.g. the amazon-seq recipe")
        info = found[0]
    if info.kind != "sequence" or info.vocab_key != fields[item_field].vocab_key:
        raise ConfigError(f"history field '{info.name}' is not a sequence over the '{item_field}' vocabulary",
                          fix=f"declare it with kind: sequence and vocab_from: {item_field}")
    return info


def lengths_of(history: Tensor) -> Tensor:
    """``[B]`` number of real (non-padding) entries of right-padded histories ``[B, L]``."""
    return (history != PAD).sum(1)


def next_item_targets(history: Tensor, target: Tensor) -> Tensor:
    """``[B, L]`` the item that follows each history position (PAD where none).

    Position ``t`` of a right-padded history is followed by position ``t + 1``; the last real
    position is followed by the row's own next item. A row with an empty history predicts its
    target from position 0 (whose input is the padding vector).
    """
    lengths = lengths_of(history)
    targets = torch.full_like(history, PAD)
    targets[:, :-1] = history[:, 1:]
    last = (lengths - 1).clamp_min(0)
    targets.scatter_(1, last.unsqueeze(1), target.unsqueeze(1))
    return targets


def item_features(prepared: Any, model_cfg: dict[str, Any], item_field: str, names: list[str]) -> EntityFeatures:
    """Encoders of the item fields that represent items (default: the id alone)."""
    chosen = list(names) or [item_field]
    features = EntityFeatures.from_prepared(prepared, chosen, model_cfg, embedding_dim(model_cfg))
    wrong = [n for n in chosen if features.roles[n] != "item"]
    if wrong:
        raise ConfigError(f"item_fields {wrong} are not item fields", fix="list only role: item fields")
    return features


class SequentialRanker(StandaloneRanker):
    """A next-item model: item vectors -> sequence encoder over the history -> dot product.

    Subclasses implement :meth:`encode_sequence` (``[B, L, D]`` inputs -> ``[B, L, D]`` outputs,
    where output ``t`` may only depend on inputs ``0..t``). Training predicts, at every history
    position, the item that follows it (the row's next item after the last one), with a
    full softmax over the catalogue or a sampled softmax over ``num_negatives`` uniform draws.
    """

    task = "retrieval"
    #: item vectors come from the item fields' encoders: ``model.encoders.<field>`` overrides them
    model_keys: ClassVar[frozenset[str]] = StandaloneRanker.model_keys | {"encoders"}

    def __init__(self, num_users: int, num_items: int, params: Any, user_field: str, item_field: str, dim: int,
                 features: EntityFeatures, history: str, max_len: int) -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        if params.loss not in SEQUENCE_LOSSES:
            raise ConfigError(f"{self.name} loss '{params.loss}' is unknown", fix="use softmax or sampled")
        if params.loss == "sampled" and params.num_negatives < 1:
            raise ConfigError(f"{self.name} num_negatives must be >= 1", fix="set num_negatives: 100")
        self.params, self.dim, self.history, self.max_len = params, dim, history, max_len
        self.features = features
        self.emb_dropout = nn.Dropout(params.dropout)
        self._item_cache: Tensor | None = None

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> SequentialRanker:
        user, item, n_users, n_items = id_fields(prepared)
        hist = history_field(prepared, item, params.history_field)
        features = item_features(prepared, model_cfg, item, list(params.item_fields))
        return cls(n_users, n_items, params, user, item, embedding_dim(model_cfg), features, hist.name,
                   int(hist.max_len))

    # ------------------------------------------------------------------ item side
    def all_item_vectors(self) -> Tensor:
        """``[I, D]`` vectors of every item index; cached while not training."""
        ids = torch.arange(self.num_items, device=self._device())
        if self.training or torch.is_grad_enabled():
            self._item_cache = None
            return self.features.encode("item", ids).sum(1)  # type: ignore[union-attr]
        if self._item_cache is None:
            self._item_cache = self.features.encode("item", ids).sum(1)  # type: ignore[union-attr]
        return self._item_cache

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def train(self, mode: bool = True) -> SequentialRanker:
        self._item_cache = None
        return super().train(mode)

    def prepare(self, context: Any) -> None:
        self.features.prepare(context)
        self._item_cache = None

    def item_vectors(self) -> Tensor:
        with torch.no_grad():
            return self.all_item_vectors().detach()

    # ------------------------------------------------------------------ sequence side
    def encode_sequence(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``[B, L, D]`` outputs of ``[B, L, D]`` inputs; output ``t`` sees inputs ``0..t`` only."""
        raise NotImplementedError

    def _history(self, batch: dict[str, Tensor]) -> Tensor:
        if self.history not in batch:
            raise DataError(f"the batch has no history column '{self.history}'",
                            fix="declare the history field in data.fields")
        return batch[self.history].long()

    def sequence_outputs(self, history: Tensor, items: Tensor) -> Tensor:
        """``[B, L, D]`` outputs over the histories, given the item vectors ``items [I, D]``."""
        x = self.emb_dropout(items[history] * (history != PAD).unsqueeze(-1))
        return self.encode_sequence(x, lengths_of(history))

    def queries(self, batch: dict[str, Tensor], items: Tensor) -> Tensor:
        """``[B, D]`` each row's query: the output at its last history position."""
        history = self._history(batch)
        out = self.sequence_outputs(history, items)
        last = (lengths_of(history) - 1).clamp_min(0)
        return out[torch.arange(out.shape[0], device=out.device), last]

    def score_rows(self, batch: dict[str, Tensor]) -> Tensor:
        items = self.all_item_vectors()
        return self.queries(batch, items) @ items.T

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        items = self.all_item_vectors()
        return (self.queries(batch, items) * items[self.items_of(batch)]).sum(-1)

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        raise NotImplementedError(f"{self.name} ranks from a row's history; use eval.protocol: rows")

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        items = self.all_item_vectors()
        history = self._history(batch)
        targets = next_item_targets(history, self.items_of(batch))
        keep = targets.reshape(-1) != PAD
        out = self.sequence_outputs(history, items).reshape(-1, self.dim)[keep]
        gold = targets.reshape(-1)[keep]
        if self.params.loss == "softmax":
            logits = out @ items.T
            logits[:, :FIRST] = -torch.inf
            return F.cross_entropy(logits, gold)
        negs = torch.randint(FIRST, max(self.num_items, FIRST + 1), (self.params.num_negatives,), device=out.device)
        pos = (out * items[gold]).sum(-1, keepdim=True)
        neg = (out @ items[negs].T).masked_fill(negs.unsqueeze(0) == gold.unsqueeze(1), -torch.inf)
        logits = torch.cat([pos, neg], dim=1)
        return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long, device=out.device))
