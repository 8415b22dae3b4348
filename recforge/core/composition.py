"""Build an interaction from a config spec: a name, ``{name, params}``, parallel or stacked.

Spec forms (nest freely)::

    deepfm                                   # a registered interaction, default params
    {name: crossnet-v2, params: {num_layers: 4}}
    {parallel: [lr, fm, {name: mlp}], combine: sum}     # logits summed, H = 1
    {parallel: [crossnet, mlp], combine: concat}         # outputs side by side, H = sum H_i
    {stack: [crossnet-v2, {name: mlp, params: {hidden_units: [64]}}]}

``combine: sum`` projects every branch with ``H_i > 1`` to one logit (a bias-free linear map;
``H_i = 1`` branches pass through) and adds them, which is how DeepFM, xDeepFM and DCN sum
their parts. In a stack the first layer sees the field vectors ``[B, F, D]`` and every later
layer sees the previous output ``[B, H]`` as one wide field ``[B, 1, H]``; only layers that
declare ``accepts_flat = True`` may come later (``mlp``, ``lr``, ``crossnet``,
``crossnet-v2``, ``masknet``, ``finalmlp``, and compositions that start with one of them).
Field-pair layers (``fm``, ``cin``, ``autoint``, ...) would see a single field and learn
nothing, so they are refused there with a message.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, build_params
from recforge.core.errors import ConfigError

COMBINES = ("concat", "sum")
FORMS = "{name, params}, {parallel: [...], combine: concat|sum} or {stack: [...]}"


class Parallel(Interaction):
    """Branches that all read the same field vectors; outputs concatenated or logits summed."""

    def __init__(self, branches: list[Interaction], combine: str) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.combine = combine
        self.accepts_flat = all(b.accepts_flat for b in branches)
        if combine == "sum":
            self.projections = nn.ModuleList(
                [
                    nn.Identity() if b.output_dim == 1 else nn.Linear(b.output_dim, 1, bias=False)
                    for b in branches
                ]
            )
            self.output_dim = 1
        else:
            self.projections = nn.ModuleList([nn.Identity() for _ in branches])
            self.output_dim = sum(b.output_dim for b in branches)

    def forward(self, x: Tensor) -> Tensor:
        outs = [proj(branch(x)) for branch, proj in zip(self.branches, self.projections)]
        if self.combine == "sum":
            return torch.stack(outs, dim=0).sum(dim=0)
        return torch.cat(outs, dim=1)


class Stack(Interaction):
    """Layers applied in turn; each later one gets the previous ``[B, H]`` as ``[B, 1, H]``."""

    def __init__(self, layers: list[Interaction]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.accepts_flat = layers[0].accepts_flat
        self.output_dim = layers[-1].output_dim

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers[0](x)
        for layer in self.layers[1:]:
            out = layer(out.unsqueeze(1))
        return out


def _describe(spec: Any) -> str:
    text = repr(spec)
    return text if len(text) <= 80 else text[:77] + "..."


def _build_named(name: str, raw_params: Any, num_fields: int, dim: int) -> Interaction:
    from recforge.core.registry import get_registry

    info = get_registry().get(name, "interaction")
    if raw_params is not None and not isinstance(raw_params, dict):
        raise ConfigError(
            f"interaction '{name}': params must be a mapping, got {_describe(raw_params)}",
            fix="write params as {key: value, ...}",
        )
    return info.cls(num_fields, dim, build_params(info.cls, raw_params))  # type: ignore[call-arg]


def _spec_list(spec: dict[str, Any], key: str) -> list[Any]:
    items = spec[key]
    if not isinstance(items, list) or not items:
        raise ConfigError(
            f"interaction spec '{key}' must be a non-empty list, got {_describe(items)}",
            fix=f"write {key}: [first, second, ...]",
        )
    return items


def _check_keys(spec: dict[str, Any], allowed: set[str], form: str) -> None:
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ConfigError(
            f"interaction spec {_describe(spec)} has unknown key(s) {', '.join(extra)} "
            f"for the {form} form",
            fix=f"use only {', '.join(sorted(allowed))}",
        )


def build_interaction(spec: Any, num_fields: int, dim: int) -> Interaction:
    """Build the interaction described by ``spec`` for ``num_fields`` slots of width ``dim``.

    Args:
        spec: a registered name, ``{name, params}``, ``{parallel: [...], combine}`` or
            ``{stack: [...]}`` (see the module docstring); nested specs are allowed.
        num_fields: number of field slots ``F`` of the input ``[B, F, D]``.
        dim: embedding dim ``D``.

    Returns:
        An :class:`Interaction` whose ``output_dim`` is its ``H``.

    Raises:
        ConfigError: malformed spec, unknown name (with did-you-mean) or bad params.
    """
    if isinstance(spec, str):
        return _build_named(spec, None, num_fields, dim)
    if not isinstance(spec, dict):
        raise ConfigError(
            f"interaction spec {_describe(spec)} is neither a name nor a mapping",
            fix=f"use a name, {FORMS}",
        )
    if "name" in spec:
        _check_keys(spec, {"name", "params"}, "{name, params}")
        if not isinstance(spec["name"], str):
            raise ConfigError(
                f"interaction name {_describe(spec['name'])} is not a string", fix="give a name"
            )
        return _build_named(spec["name"], spec.get("params"), num_fields, dim)
    if "parallel" in spec:
        _check_keys(spec, {"parallel", "combine"}, "parallel")
        combine = spec.get("combine", "concat")
        if combine not in COMBINES:
            raise ConfigError(
                f"interaction spec combine '{combine}' is not one of {', '.join(COMBINES)}",
                fix="use combine: concat (outputs side by side) or combine: sum (logits added)",
            )
        branches = [build_interaction(s, num_fields, dim) for s in _spec_list(spec, "parallel")]
        return Parallel(branches, combine)
    if "stack" in spec:
        _check_keys(spec, {"stack"}, "stack")
        items = _spec_list(spec, "stack")
        layers = [build_interaction(items[0], num_fields, dim)]
        for item in items[1:]:
            layer = build_interaction(item, 1, layers[-1].output_dim)
            if not layer.accepts_flat:
                raise ConfigError(
                    f"interaction {_describe(item)} cannot follow another layer in a stack: it "
                    f"needs [B, F, D] field vectors but would get one flat field",
                    fix="put it first in the stack or in a parallel branch; mlp, lr, crossnet, "
                    "crossnet-v2, masknet and finalmlp accept flat input",
                )
            layers.append(layer)
        return Stack(layers)
    raise ConfigError(
        f"interaction spec {_describe(spec)} has none of the keys name, parallel, stack",
        fix=f"use {FORMS}",
    )
