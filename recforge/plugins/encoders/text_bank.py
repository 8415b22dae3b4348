"""Frozen language-model vectors of a field's distinct texts, and their projection to ``D``.

Shared by ``text-lm`` (one text per row) and ``text-seq`` (a history of texts per row): both
keep a *bank* ``[n_texts, H]`` filled once from the persistent text cache, and look rows up by
text index. The bank is a persistent buffer, so a saved model carries its vectors and needs no
language model to serve; rows not filled yet (a model saved before ``prepare``, or texts added
after saving) are encoded on the next ``prepare``.

Texts the model never saw (``predict`` / ``recommend`` on new titles): the data layer appends
them to the field's text list, which the bank keeps a reference to; a lookup past the bank's
end grows the bank by those texts and encodes them with the model's own language model
(through the text cache), so a new title gets its own vector -- the one it would have had at
training time. When the language model cannot run, the lookup fails with a clear error
instead of reusing another text's vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from recforge.core import distributed
from recforge.core.components import PrepareContext, param
from recforge.core.errors import ConfigError, RecforgeError
from recforge.core.textcache import TextCache, TextVectorConfig
import recforge.plugins.encoders.lm_backend as lm_backend
from recforge.plugins.encoders.lm_backend import hidden_size, resolve_model


@dataclass
class LMParams:
    """Language-model parameters shared by the text encoders (see ``text-lm``)."""

    model: str = param("", "HF model folder or hub name ('' = offline all-MiniLM-L6-v2)")
    pooling: Literal["cls", "mean", "last-token"] = param("mean", "token pooling")
    max_length: int = param(128, "truncate texts to this many tokens")
    template: str = param("{text}", "python format string applied to each text ({text})")
    precision: Literal["fp32", "int8", "bf16"] = param("fp32", "frozen encoding precision")
    batch_size: int = param(256, "most texts per encoding batch")
    normalize: bool = param(True, "L2-normalise the language-model vectors")
    dropout: float = param(0.1, "dropout on the language-model vector before the projection")
    rank: int = param(0, "project through a frozen rank-r PCA basis of the bank first (0 = off)")


def apply_template(template: str, texts: list[str], owner: str) -> list[str]:
    """Format each text through ``template`` (which may only use ``{text}``)."""
    try:
        return [template.format(text=t) for t in texts]
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"text template {template!r} of field '{owner}' is invalid ({err})",
            fix="use {text} for the text; build multi-column texts with the field's "
            "`template:` in data.fields",
        ) from None


class TextBank(nn.Module):
    """Frozen LM vectors ``[n_texts, H]`` of a list of texts, filled from the text cache.

    Args:
        texts: the distinct texts (index 0 = empty/padding, 1 = unknown).
        params: the language-model parameters.
        owner: field name (for messages).
        field_template: the data layer's template the texts were built with (cache key).

    Example:
        >>> bank = TextBank(["", "", "Toy Story (1995)"], LMParams(), "title")  # doctest: +SKIP
        >>> bank.prepare(PrepareContext()); bank(torch.tensor([2])).shape  # doctest: +SKIP
        torch.Size([1, 384])
    """

    def __init__(self, texts: list[str], params: LMParams, owner: str, field_template: str | None = None) -> None:
        super().__init__()
        self.params = params
        self.owner = owner
        self.model_id, self.revision = resolve_model(params.model)
        self.source = texts  # the field's own list: the data layer appends unseen texts to it
        self.texts = apply_template(params.template, list(texts), owner)
        self.template_key = f"{field_template or ''}|{params.template}"
        self.register_buffer("bank", torch.zeros(len(self.texts), hidden_size(self.model_id)))
        self.register_buffer("ready", torch.zeros(len(self.texts), dtype=torch.bool))

    def cache_config(self) -> TextVectorConfig:
        """The cache key parts of this bank's vectors."""
        p = self.params
        return TextVectorConfig(self.model_id, self.revision, p.pooling, p.max_length, self.template_key, p.precision)

    def prepare(self, context: PrepareContext) -> int:
        """Fill rows not filled yet from the cache (encoding misses); return rows filled."""
        todo = [i for i in (~self.ready).nonzero().flatten().tolist() if self.texts[i].strip()]
        if not todo:
            self.ready.fill_(True)
            return 0
        p = self.params
        device = str(context.device) if context.device is not None else "cpu"

        def encode(missing: list[str]) -> Tensor:
            lm = lm_backend.shared_backend(p.model, p.pooling, p.max_length, p.precision, device)
            return lm.encode(missing, batch_size=p.batch_size, show_progress=context.show_progress)

        cache = TextCache(store=context.store)
        # under torchrun each rank encodes only its share of the missing texts
        vectors = cache.get_or_compute(self.cache_config(), [self.texts[i] for i in todo], encode,
                                       shard=distributed.text_shard())
        with torch.no_grad():
            self.bank[torch.tensor(todo)] = vectors.to(self.bank.device, self.bank.dtype)
        self.ready.fill_(True)  # empty texts stay the zero vector
        return len(todo)

    def grow(self) -> int:
        """Add the texts appended to the field since the bank was built and encode them.

        Returns:
            how many texts were added (0 when the bank is up to date).

        Raises:
            ConfigError: the new texts cannot be encoded (no language model available).
        """
        new = list(self.source[len(self.texts):])
        if not new:
            return 0
        self.texts += apply_template(self.params.template, new, self.owner)
        n = len(self.texts)
        grown = torch.zeros(n, self.bank.shape[1], dtype=self.bank.dtype, device=self.bank.device)
        grown[: self.bank.shape[0]] = self.bank
        ready = torch.zeros(n, dtype=torch.bool, device=self.ready.device)
        ready[: self.ready.shape[0]] = self.ready
        self._buffers["bank"], self._buffers["ready"] = grown, ready
        try:
            self.prepare(PrepareContext(device=self.bank.device))
        except (OSError, RuntimeError, ImportError, RecforgeError) as err:
            raise ConfigError(
                f"cannot encode {len(new)} text(s) of field '{self.owner}' the model never saw "
                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
                fix=f"make the language model '{self.model_id}' available, or score only known texts",
            ) from None
        return len(new)

    def forward(self, indices: Tensor) -> Tensor:
        if indices.numel() and int(indices.max()) >= self.bank.shape[0]:
            self.grow()
            if int(indices.max()) >= self.bank.shape[0]:
                raise ConfigError(
                    f"text index {int(indices.max())} of field '{self.owner}' is not a known text",
                    fix="index texts through the model's featuremap (it registers new texts)",
                )
        if not bool(self.ready.all()):
            raise ConfigError(
                f"text vectors of field '{self.owner}' are not computed",
                fix="call encoder.prepare(PrepareContext(...)) before training or inference",
            )
        return self.bank[indices]

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # a bank saved with fewer texts: keep its rows, encode the new ones on prepare
        bank, ready = state_dict.get(prefix + "bank"), state_dict.get(prefix + "ready")
        if bank is not None and ready is not None and bank.shape[0] < self.bank.shape[0]:
            n = bank.shape[0]
            grown_bank, grown_ready = self.bank.clone(), torch.zeros_like(self.ready)
            grown_bank[:n], grown_ready[:n] = bank, ready
            state_dict[prefix + "bank"], state_dict[prefix + "ready"] = grown_bank, grown_ready
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class TextProjection(nn.Module):
    """LM vector ``[..., H]`` -> field vector ``[..., D]``: normalise, dropout, (frozen basis), linear.

    With ``rank > 0`` the vectors first go through a frozen basis of the bank's top ``rank``
    principal directions, so only ``rank x D`` weights train: the projection cannot memorise
    each warm item's text, which is what makes text vectors carry over to cold items.

    Args:
        in_dim: the LM vector size ``H``.
        dim: the field vector size ``D``.
        params: the language-model parameters (normalize, dropout, rank).
    """

    def __init__(self, in_dim: int, dim: int, params: LMParams) -> None:
        super().__init__()
        self.normalize = params.normalize
        self.dropout = nn.Dropout(params.dropout)
        self.rank = params.rank
        if self.rank:
            self.register_buffer("basis", torch.zeros(in_dim, self.rank))
            self.register_buffer("center", torch.zeros(in_dim))
            self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.linear = nn.Linear(self.rank or in_dim, dim)

    def _prep(self, vectors: Tensor) -> Tensor:
        return nn.functional.normalize(vectors, dim=-1) if self.normalize else vectors

    def fit_basis(self, bank: Tensor) -> None:
        """Compute the frozen PCA basis from the bank (once; kept in saved models)."""
        if not self.rank or bool(self.fitted):
            return
        x = self._prep(bank[bank.abs().sum(1) > 0])
        if x.shape[0] < 2:
            return
        center = x.mean(0)
        _, _, v = torch.linalg.svd(x - center, full_matrices=False)
        k = min(self.rank, v.shape[0])
        with torch.no_grad():
            self.basis.zero_()
            self.basis[:, :k] = v[:k].T
            self.center.copy_(center)
            self.fitted.fill_(True)

    def forward(self, vectors: Tensor) -> Tensor:
        x = self._prep(vectors)
        if self.rank:
            x = (x - self.center) @ self.basis
        return self.linear(self.dropout(x))
