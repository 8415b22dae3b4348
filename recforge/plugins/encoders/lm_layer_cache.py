"""Hidden states of a language model's frozen lower layers, computed once per distinct text.

When only the top ``k`` transformer layers of a model train (or carry LoRA adapters), the
output of the layers below them depends on nothing that changes during training: the text,
the model's weights and the layer index. Running them again in every step of every epoch is
pure waste, and on CPU it is most of the cost of fine-tuning. :class:`LowerLayerCache` keeps
those hidden states in memory, one ``[tokens, H]`` tensor per distinct token sequence, keyed
by ``(model id, revision, layer)`` and the text's token ids; each step then runs only the top
layers and the pooling on the cached states.

The states are computed without gradients and without dropout (the frozen layers act as a
fixed feature extractor), so a cached forward equals the model's own forward in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class LayerCacheKey:
    """What the cached states depend on besides the text.

    Args:
        model_id: the model's hub name or resolved local folder.
        revision: commit hash or content fingerprint of the weights.
        layer: number of transformer layers below the cut (the states are their output).
    """

    model_id: str
    revision: str
    layer: int


class LowerLayerCache:
    """In-memory ``token ids -> hidden states [tokens, H]`` of one model cut at one layer.

    Args:
        key: the model and the layer the states belong to.
        compute: maps equal-length token id lists ``[n][T]`` to their states ``[n, T, H]``
            (no padding, so no mask: each text's states are exactly its own).

    Example:
        >>> cache = LowerLayerCache(LayerCacheKey("m", "r", 5), lower_forward)  # doctest: +SKIP
        >>> states = cache.states([[101, 2023, 102]])  # doctest: +SKIP
    """

    def __init__(self, key: LayerCacheKey, compute: Callable[[list[list[int]]], Tensor]) -> None:
        self.key = key
        self._compute = compute
        self._states: dict[tuple[int, ...], Tensor] = {}
        #: how many texts the lower layers ran on (tests: once per distinct text)
        self.texts_computed = 0
        #: how many lower-layer forward calls were made
        self.calls = 0

    def __len__(self) -> int:
        return len(self._states)

    def states(self, ids: Sequence[Sequence[int]]) -> list[Tensor]:
        """The cached states of each token id list, computing the missing ones (grouped by
        length, one call per group)."""
        keys = [tuple(row) for row in ids]
        missing: dict[int, list[tuple[int, ...]]] = {}
        for key in dict.fromkeys(keys):
            if key not in self._states:
                missing.setdefault(len(key), []).append(key)
        for group in missing.values():
            with torch.no_grad():
                computed = self._compute([list(k) for k in group]).detach()
            self.calls += 1
            self.texts_computed += len(group)
            for key, state in zip(group, computed):
                self._states[key] = state
        return [self._states[k] for k in keys]

    def clear(self) -> None:
        """Forget every state (the lower layers' weights changed, e.g. a new state was loaded)."""
        self._states.clear()
