"""``text-seq``: a user's history of texts (e.g. clicked titles) through frozen LM vectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from recforge.core.components import Encoder, PrepareContext, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError
from recforge.plugins.encoders._common import batch_tensor, check_fields, masked_pool, padding_mask
from recforge.plugins.encoders.attention import TargetAttention, target_vector
from recforge.plugins.encoders.text_bank import LMParams, TextBank, TextProjection


class TextSequenceEncoder(Encoder):
    """User-side text: pools the LM vectors of a history of texts (clicked titles, reviews).

    The sequence field's vocabulary is a text field's (``vocab_from: title``), so its indices
    are text indices. Give the encoder the sequence field and the text field (or a sequence
    field whose ``texts`` the data layer filled); their vectors come from the same persistent
    text cache as ``text-lm``, so sharing a model with the item's text costs no extra encoding.
    History positions are projected to ``D`` and pooled by mean or by attention to ``target``.

    Args:
        model / pooling / max_length / template / precision / batch_size / normalize /
            dropout / rank: as for ``text-lm``.
        history_pooling: ``mean``, ``max`` or ``attention``.
        target: attention mode: the field to attend to (e.g. the candidate's ``title``).
        attention_hidden: width of the attention scoring MLP.

    Example:
        model:
          encoders:
            clicked_titles: {name: text-seq, params: {history_pooling: attention, target: title}}
    """

    name = "text-seq"
    field_kinds = ("sequence", "multi_categorical")

    @dataclass
    class Params(LMParams):
        history_pooling: Literal["mean", "max", "attention"] = param("mean", "pooling over the history")
        target: str = param("", "attention mode: the field to attend to")
        attention_hidden: int = param(36, "width of the attention scoring MLP")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        fields = check_fields(type(self), fields)
        self.field = fields[0]
        text_fields = [f for f in fields[1:] if f.kind == "text"]
        texts = text_fields[0].texts if text_fields else self.field.texts
        if not texts:
            raise ConfigError(
                f"sequence field '{self.field.name}' has no texts for encoder 'text-seq'",
                fix="set `vocab_from:` to a text field in data.fields so its texts are known",
            )
        template = text_fields[0].text_template if text_fields else self.field.text_template
        self.params = params
        self.bank = TextBank(texts, params, self.field.name, template)
        self.projection = TextProjection(self.bank.bank.shape[1], dim, params)
        if params.history_pooling == "attention":
            if not params.target:
                raise ConfigError(
                    f"field '{self.field.name}' uses attention pooling without a target",
                    fix="set params.target to the candidate's field, e.g. title or item_id",
                )
            self.depends_on = (params.target,)
            self.attention = TargetAttention(dim, params.attention_hidden)

    def prepare(self, context: Any) -> None:
        """Fill the vector bank from the text cache (encoding only cache misses)."""
        self.bank.prepare(context if context is not None else PrepareContext())
        self.projection.fit_basis(self.bank.bank)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        idx = batch_tensor(batch, self.field).long()
        keys = self.projection(self.bank(idx))
        mask = padding_mask(idx)
        if self.params.history_pooling == "attention":
            query = target_vector(encoded, self.params.target, self.field.name)
            return self.attention(query, keys, mask).unsqueeze(1)
        return masked_pool(keys, mask, self.params.history_pooling).unsqueeze(1)
