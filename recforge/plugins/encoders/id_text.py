"""``id-text``: an item id embedding that the item's text stands in for where the id is unknown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FIRST, FieldInfo
from recforge.core.errors import ConfigError, DataError
from recforge.plugins.encoders._common import batch_tensor, check_fields, embedding_table, gather_rows, require_vocab


class IdTextEncoder(Encoder):
    """Item id embedding, replaced by a vector mapped from the item's text for unknown ids.

    A cold item (an id never seen in training) has no trained embedding; its text does have a
    vector. This encoder maps the text field's vector (``text_field``, encoded first by its
    own encoder, e.g. ``text-lm``) into the id-embedding space and uses it wherever the id is
    unknown. To make the mapped text a real substitute it is trained in two ways:

    * **id dropout** (DropoutNet, Volkovs et al. 2017): during training a share
      ``id_dropout`` of the known ids is hidden, and the row is scored with the mapped text
      instead, so the rest of the model learns to score from it;
    * **alignment** to the id embeddings of the batch's known items: ``mse`` pulls the mapped
      text towards the (detached) id embedding, ``contrastive`` is CLCRec's in-batch InfoNCE
      (Wei et al. 2021: an item's mapped text must pick its own id embedding out of the
      batch's), weighted by ``align_weight`` and added to the training loss.

    At inference every known id uses its embedding and every unknown id the mapped text.

    Args:
        text_field: the item's text field (must also be encoded, i.e. listed in the model).
        id_dropout: training-only share of known ids replaced by their mapped text.
        align: ``none``, ``mse`` or ``contrastive``.
        align_weight: weight of the alignment loss.
        temperature: contrastive alignment temperature.
        hidden: hidden width of the text -> id mapper (0 = one linear map).

    Example:
        model:
          fields: [user_id, item_id, item_text]
          encoders:
            item_id: {name: id-text, params: {text_field: item_text, id_dropout: 0.3, align: contrastive}}
    """

    name = "id-text"
    field_kinds = ("categorical",)

    @dataclass
    class Params:
        text_field: str = param("", "the item's text field, encoded first")
        id_dropout: float = param(0.3, "training-only share of known ids replaced by the mapped text")
        align: Literal["none", "mse", "contrastive"] = param("contrastive", "alignment of mapped text to id embeddings")
        align_weight: float = param(0.1, "weight of the alignment loss")
        temperature: float = param(0.1, "contrastive alignment temperature")
        hidden: int = param(0, "hidden width of the text -> id mapper (0 = linear)")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        require_vocab(type(self), self.field)
        if not params.text_field:
            raise ConfigError(f"id-text encoder of '{self.field.name}' needs params.text_field",
                              fix="name the item's text field, e.g. text_field: item_text")
        if not 0.0 <= params.id_dropout < 1.0 or params.align_weight < 0 or params.temperature <= 0:
            raise ConfigError("id-text needs 0 <= id_dropout < 1, align_weight >= 0 and temperature > 0",
                              fix="e.g. id_dropout: 0.3, align_weight: 0.1, temperature: 0.1")
        self.params = params
        self.depends_on = (params.text_field,)
        self.table = embedding_table(tables, self.field, dim, True)
        self.mapper: nn.Module = nn.Linear(dim, dim) if params.hidden <= 0 else nn.Sequential(
            nn.Linear(dim, params.hidden), nn.GELU(), nn.Linear(params.hidden, dim))
        self._pending: Tensor | None = None

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        if self.params.text_field not in encoded:
            raise DataError(f"id-text: the text field '{self.params.text_field}' was not encoded",
                            fix=f"list {self.params.text_field} in model.fields")
        idx = batch_tensor(batch, self.field).long()
        ids = gather_rows(self.table, idx)
        text = self.mapper(encoded[self.params.text_field].reshape(idx.shape[0], -1))
        known = idx >= FIRST
        keep = known
        if self.training:
            keep = known & (torch.rand(idx.shape, device=idx.device) >= self.params.id_dropout)
            self._pending = self._alignment(text[known], ids[known].detach(), idx[known])
        return torch.where(keep.unsqueeze(-1), ids, text).unsqueeze(1)

    def _alignment(self, text: Tensor, ids: Tensor, items: Tensor) -> Tensor | None:
        if self.params.align == "none" or self.params.align_weight == 0 or text.shape[0] < 2:
            return None
        if self.params.align == "mse":
            loss = F.mse_loss(text, ids)
        else:
            logits = F.normalize(text, dim=-1) @ F.normalize(ids, dim=-1).T / self.params.temperature
            same = items.unsqueeze(0) == items.unsqueeze(1)
            logits = logits.masked_fill(same & ~torch.eye(len(items), dtype=torch.bool, device=items.device), -torch.inf)
            loss = F.cross_entropy(logits, torch.arange(len(items), device=items.device))
        return self.params.align_weight * loss

    def auxiliary_loss(self) -> Tensor | None:
        """The alignment loss of the last training forward (handed out once)."""
        loss, self._pending = self._pending, None
        return loss
