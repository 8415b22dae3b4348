"""``text-lm``: a Hugging Face language model as the encoder of a text field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from recforge.core.components import Encoder, PrepareContext, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError
from recforge.plugins.encoders._common import batch_tensor, check_fields
from recforge.plugins.encoders.lm_backend import LMBackend, hidden_size
from recforge.plugins.encoders.lm_finetune import (
    CachedLowerLayers,
    fine_tuning_runner,
    set_trainable,
)
from recforge.plugins.encoders.lm_lora import LoraSettings
from recforge.plugins.encoders.text_bank import LMParams, TextBank, TextProjection, apply_template

#: params that only act when the language model trains, and those that only act with LoRA
FINETUNE_KEYS = ("finetune_layers", "lm_lr")
LORA_KEYS = ("lora_rank", "lora_alpha", "lora_dropout")


class TextLMEncoder(Encoder):
    """Encodes a text field (title, description, profile) with a language model.

    **frozen** (default): every distinct text is encoded once, through the persistent text
    cache (a second run, or another process, makes no model call), into a vector bank saved
    with the model; training only learns the projection to ``D``.

    **finetune**: the top ``finetune_layers`` transformer layers train too (``0``: every
    weight, embeddings included: full fine-tuning). **lora**: LoRA adapters (``peft``, the
    ``recforge[lora]`` extra) on the attention query/value projections of the top
    ``finetune_layers`` layers (``0``: all), every pretrained weight frozen. Both train the
    language model at ``lm_lr`` (see :meth:`param_groups`). While the layers below the top
    ``k`` are frozen, their hidden states are computed once per distinct text and kept in
    memory (:mod:`~recforge.plugins.encoders.lm_finetune`), so an epoch runs only the top
    layers and the pooling; the fine-tuned weights are saved with the model, and texts the
    model never saw are encoded with them.

    Multi-column texts (``"{title}. Genres: {genres}"``) are built by the data layer from the
    field's ``template:``; ``params.template`` wraps the result (e.g. ``"query: {text}"``).

    Args:
        model: local model folder or hub name ("" = offline all-MiniLM-L6-v2).
        pooling: ``cls``, ``mean`` or ``last-token`` (decoder models).
        max_length: truncate texts to this many tokens.
        template: python format string over ``{text}``.
        precision: frozen encoding in ``fp32``, ``int8`` (dynamic quantisation) or ``bf16``.
        batch_size: most texts per encoding batch.
        normalize: L2-normalise the LM vectors before projecting.
        dropout: dropout on the LM vector before the projection.
        rank: project through a frozen rank-r PCA basis of the bank first (0 = full linear).
        mode: ``frozen``, ``finetune`` or ``lora``.
        finetune_layers: finetune / lora: how many top transformer layers train or carry
            adapters (0 = all).
        lm_lr: finetune / lora: learning rate of the language model's trainable weights.
        lora_rank / lora_alpha / lora_dropout: lora: rank, scale numerator and input dropout
            of the adapters.
        proj_weight_decay: weight decay the trainer should give the projection.

    Example:
        model:
          encoders:
            title: {name: text-lm, params: {pooling: mean, dropout: 0.2, rank: 32}}
            description: {name: text-lm, params: {mode: lora, finetune_layers: 2, lm_lr: 1.0e-4}}
    """

    name = "text-lm"
    field_kinds = ("text",)

    @dataclass
    class Params(LMParams):
        mode: Literal["frozen", "finetune", "lora"] = param(
            "frozen", "frozen vectors, fine-tuning, or LoRA adapters (needs recforge[lora])")
        finetune_layers: int = param(2, "finetune / lora: top transformer layers that train or carry adapters (0 = all)")
        lm_lr: float = param(2e-5, "finetune / lora: learning rate of the language model")
        lora_rank: int = param(8, "lora: rank of each adapter")
        lora_alpha: float = param(16.0, "lora: adapter scale numerator (scale = alpha / rank)")
        lora_dropout: float = param(0.0, "lora: dropout on the adapters' input")
        proj_weight_decay: float = param(0.0, "weight decay for the projection (trainer hint)")

        def __post_init__(self) -> None:
            """Ranges, and keys of another mode refused instead of silently ignored."""
            if self.finetune_layers < 0 or self.lm_lr <= 0 or self.lora_rank < 1 or self.lora_alpha <= 0 \
                    or not 0 <= self.lora_dropout < 1:
                raise ConfigError(
                    "text-lm needs finetune_layers >= 0, lm_lr > 0, lora_rank >= 1, lora_alpha > 0 and "
                    "0 <= lora_dropout < 1",
                    fix="fix the value in the encoder's params")
            unused = {"frozen": FINETUNE_KEYS + LORA_KEYS, "finetune": LORA_KEYS, "lora": ()}[self.mode]
            set_here = [k for k in unused if getattr(self, k) != DEFAULTS[k]]
            if set_here:
                raise ConfigError(f"text-lm param(s) {', '.join(set_here)} do nothing in mode '{self.mode}'",
                                  fix="remove them, or set mode to "
                                  + ("finetune or lora" if self.mode == "frozen" else "lora"))

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        if not self.field.texts:
            raise ConfigError(
                f"text field '{self.field.name}' has no texts",
                fix="fit the featuremap first (FieldInfo.texts lists the distinct texts)",
            )
        self.params = params
        if params.mode == "frozen":
            self.bank = TextBank(self.field.texts, params, self.field.name, self.field.text_template)
            in_dim = self.bank.bank.shape[1]
        else:
            if params.precision != "fp32":
                raise ConfigError(
                    f"text field '{self.field.name}': {params.mode} mode trains in fp32, not {params.precision}",
                    fix="set precision: fp32 or mode: frozen",
                )
            self.lm = LMBackend(params.model, params.pooling, params.max_length, "fp32")
            self.lm.lm.train()
            lora = (LoraSettings(params.lora_rank, params.lora_alpha, params.lora_dropout)
                    if params.mode == "lora" else None)
            self.lm_trainable, cut = set_trainable(self.lm, params.finetune_layers, lora)
            self.runner = fine_tuning_runner(self.lm, cut)
            texts = apply_template(params.template, list(self.field.texts), self.field.name)
            self.token_ids = self.lm.tokenize(texts)
            in_dim = hidden_size(self.lm.model_id)
        self.projection = TextProjection(in_dim, dim, params)

    def prepare(self, context: Any) -> None:
        """Frozen: fill the vector bank from the text cache (encoding only cache misses).
        Fine-tuning: move the language model to the context's device (lower-layer states
        cached on another device are dropped and recomputed on first use)."""
        context = context if context is not None else PrepareContext()
        if self.params.mode == "frozen":
            self.bank.prepare(context)
            self.projection.fit_basis(self.bank.bank)
        else:
            self.lm.to(context.device)
            if self.lm.device != torch.device(context.device) and isinstance(self.runner, CachedLowerLayers):
                self.runner.clear()  # cached states live on the old device
            self.lm.device = torch.device(context.device)

    def _tokenize_new_texts(self, highest: int) -> None:
        """Tokenise texts the data layer appended to the field after this encoder was built
        (new titles at predict time), so they run through the fine-tuned model like any other."""
        new = list(self.field.texts[len(self.token_ids):])
        if new:
            self.token_ids += self.lm.tokenize(apply_template(self.params.template, new, self.field.name))
        if highest >= len(self.token_ids):
            raise ConfigError(f"text index {highest} of field '{self.field.name}' is not a known text",
                              fix="index texts through the model's featuremap (it registers new texts)")

    def text_vectors(self, indices: Tensor) -> Tensor:
        """LM vectors ``[*indices.shape, H]`` of text indices (before the projection)."""
        if self.params.mode == "frozen":
            return self.bank(indices)
        flat = indices.reshape(-1)
        if flat.numel() and int(flat.max()) >= len(self.token_ids):
            self._tokenize_new_texts(int(flat.max()))
        distinct, inverse = torch.unique(flat, return_inverse=True)
        vectors = self.runner.embed_ids([self.token_ids[i] for i in distinct.tolist()])
        empty = torch.tensor([not self.field.texts[i].strip() for i in distinct.tolist()], device=vectors.device)
        vectors = vectors.masked_fill(empty.unsqueeze(1), 0.0)
        return vectors[inverse].reshape(*indices.shape, -1)

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups with this encoder's own settings: the LM's layers at ``lm_lr``,
        the projection with ``proj_weight_decay``. Keys absent from a group take the trainer's
        defaults."""
        groups: list[dict[str, Any]] = [
            {"params": list(self.projection.parameters()), "weight_decay": self.params.proj_weight_decay}
        ]
        if self.params.mode != "frozen" and self.lm_trainable:
            groups.append({"params": list(self.lm_trainable), "lr": self.params.lm_lr})
        return groups

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        idx = batch_tensor(batch, self.field).long()
        return self.projection(self.text_vectors(idx)).unsqueeze(1)


#: the declared default of every text-lm param (what "not set" means for mode checks)
DEFAULTS = {f.name: f.default for f in dataclasses.fields(TextLMEncoder.Params)}
