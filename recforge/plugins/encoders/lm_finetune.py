"""Fine-tuning a language model inside an encoder: full, top-k layers, or LoRA on the top k.

Which weights train:

* ``layers = 0`` with no LoRA: every weight, embeddings included (full fine-tuning); each
  step runs the whole model;
* ``layers = k``: the top ``k`` transformer layers; the embeddings and the layers below are
  frozen;
* LoRA (``lora`` settings given): adapters on the attention projections of the top ``k``
  layers (all layers for ``k = 0``); every pretrained weight is frozen.

Whenever the layers below the cut are frozen, their output for a text never changes, so
:class:`CachedLowerLayers` computes it once per distinct text (:mod:`lm_layer_cache`) and
each step runs only the top layers and the pooling. The cut needs a BERT-style encoder
(``embeddings`` then a stack of layers taking ``(hidden_states, attention_mask)``); other
models fall back to running the whole model each step (same result, slower), with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.errors import ConfigError
from recforge.plugins.encoders.lm_backend import LMBackend, transformer_layers
from recforge.plugins.encoders.lm_layer_cache import LayerCacheKey, LowerLayerCache
from recforge.plugins.encoders.lm_lora import LoraSettings, add_lora

log = logging.getLogger(__name__)

#: model families whose layers can be run on their own from cached hidden states
SPLIT_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "electra"})


def _layer_output(out: Any) -> Tensor:
    """A transformer layer's hidden states (older ``transformers`` return a tuple)."""
    return out[0] if isinstance(out, tuple) else out


def attention_mask_4d(config: Any, hidden: Tensor, mask: Tensor) -> Tensor | None:
    """The mask the model's layers expect for ``[B, T]`` padding ``mask`` (the model's own
    helper where ``transformers`` has it, else the classic additive ``[B, 1, 1, T]`` mask)."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:  # transformers < 4.53
        return (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    return create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=mask)


class CachedLowerLayers:
    """Runs a BERT-style encoder as frozen lower layers (cached per text) + top layers.

    Args:
        backend: the language model and its tokenizer / pooling.
        cut: how many transformer layers sit below the cut (frozen, cached).

    Example:
        >>> runner = CachedLowerLayers(backend, cut=5)  # doctest: +SKIP
        >>> runner.embed_ids(backend.tokenize(["a title"])).shape  # doctest: +SKIP
        torch.Size([1, 384])
    """

    def __init__(self, backend: LMBackend, cut: int) -> None:
        self.backend = backend
        self.layers = transformer_layers(backend.lm)
        self.cut = cut
        self.cache = LowerLayerCache(LayerCacheKey(backend.model_id, backend.revision, cut), self._lower)
        # new weights below the cut (a loaded state) make every cached state stale
        backend.register_load_state_dict_post_hook(lambda *_: self.cache.clear())

    @staticmethod
    def supports(lm: nn.Module) -> bool:
        """Whether ``lm`` is an encoder whose layers can run on their own."""
        return getattr(lm.config, "model_type", None) in SPLIT_MODEL_TYPES and isinstance(
            getattr(lm, "embeddings", None), nn.Module)

    def _lower(self, ids: list[list[int]]) -> Tensor:
        """Hidden states ``[n, T, H]`` after the embeddings and the layers below the cut, for
        equal-length texts (no padding, no mask); dropout off."""
        lm = self.backend.lm
        frozen = [lm.embeddings, *self.layers[: self.cut]]
        modes = [m.training for m in frozen]
        for m in frozen:
            m.eval()
        try:
            hidden = lm.embeddings(input_ids=torch.tensor(ids, dtype=torch.long, device=self.backend.device))
            for layer in self.layers[: self.cut]:
                hidden = _layer_output(layer(hidden, None))
        finally:
            for m, mode in zip(frozen, modes):
                m.train(mode)
        return hidden

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> Tensor:
        """Pooled vectors ``[N, H]`` of pre-tokenised texts; gradients flow into the top layers."""
        states = self.cache.states(ids)
        width = max(len(row) for row in ids)
        hidden = states[0].new_zeros(len(ids), width, states[0].shape[-1])
        mask = torch.zeros(len(ids), width, dtype=torch.long, device=hidden.device)
        for i, state in enumerate(states):
            hidden[i, : state.shape[0]] = state
            mask[i, : state.shape[0]] = 1
        extended = attention_mask_4d(self.backend.lm.config, hidden, mask)
        for layer in self.layers[self.cut:]:
            hidden = _layer_output(layer(hidden, extended))
        self.backend.calls += 1
        return self.backend.pool(hidden, mask)

    def clear(self) -> None:
        """Forget the cached states (e.g. the model moved to another device)."""
        self.cache.clear()


def set_trainable(backend: LMBackend, layers: int, lora: LoraSettings | None) -> tuple[list[nn.Parameter], int]:
    """Freeze what does not train and add LoRA adapters if asked.

    Args:
        backend: the language model (changed in place).
        layers: top transformer layers that train or carry adapters (0 = all; without
            LoRA the embeddings train too).
        lora: adapter settings, or None for plain fine-tuning.

    Returns:
        the trainable language-model parameters, and the cut (transformer layers below it
        are frozen; -1 when the embeddings train, so nothing can be cached).

    Raises:
        ConfigError: ``layers`` is more than the model has.
    """
    stack = transformer_layers(backend.lm)
    if layers > len(stack):
        raise ConfigError(f"finetune_layers {layers} is more than the model's {len(stack)} transformer layers",
                          fix=f"set finetune_layers between 1 and {len(stack)} (0 = all)")
    top = layers or len(stack)
    cut = len(stack) - top
    for p in backend.lm.parameters():
        p.requires_grad_(False)
    if lora is not None:
        return add_lora(backend.lm, stack, range(cut, len(stack)), lora), cut
    trainable_modules: list[nn.Module] = list(stack[cut:]) if layers else [backend.lm]
    for module in trainable_modules:
        for p in module.parameters():
            p.requires_grad_(True)
    return [p for p in backend.lm.parameters() if p.requires_grad], cut if layers else -1


class WholeModel:
    """Runs the whole model every step (the embeddings train, or the model cannot be cut).

    A plain object rather than the backend itself, so the encoder holds the backend's weights
    under one name only (``lm.*``), never twice in its state.
    """

    def __init__(self, backend: LMBackend) -> None:
        self.backend = backend

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> Tensor:
        """Pooled vectors ``[N, H]`` of pre-tokenised texts (gradients kept)."""
        return self.backend.embed_ids(ids)


def fine_tuning_runner(backend: LMBackend, cut: int) -> CachedLowerLayers | WholeModel:
    """What embeds texts during fine-tuning: the cached split when the lower part is frozen
    and the model supports it, else the whole model."""
    if cut < 0:
        return WholeModel(backend)
    if CachedLowerLayers.supports(backend.lm):
        return CachedLowerLayers(backend, cut)
    log.warning("text-lm: model type '%s' cannot run its top layers alone; fine-tuning runs the whole "
                "model every step (no lower-layer cache)", getattr(backend.lm.config, "model_type", "?"))
    return WholeModel(backend)
