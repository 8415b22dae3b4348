"""``gdcn``: the Gated Deep Cross Network (Wang et al., CIKM 2023), FuxiCTR's GDCN-P / GDCN-S."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.core.composition import build_interaction
from recforge.core.errors import ConfigError


class GatedCrossNetwork(nn.Module):
    """``c_{l+1} = c_0 * (W_l c_l + b_l) * sigmoid(W^g_l c_l) + c_l`` over ``c_0 = vec(x)``.

    The gate decides, per layer and per feature, how much of the new cross term to keep, which
    is what lets GDCN stack deeper cross layers than DCNv2 without the high-order noise.
    """

    def __init__(self, width: int, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.ModuleList([nn.Linear(width, width, bias=False) for _ in range(num_layers)])
        self.gates = nn.ModuleList([nn.Linear(width, width, bias=False) for _ in range(num_layers)])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(width)) for _ in range(num_layers)])

    def forward(self, x0: Tensor) -> Tensor:
        x = x0
        for weight, gate, bias in zip(self.weights, self.gates, self.biases):
            x = x0 * (weight(x) + bias) * torch.sigmoid(gate(x)) + x
        return x


class GDCN(Interaction):
    """GDCN: a gated cross network with a DNN beside it (GDCN-P) or on top of it (GDCN-S).

    The field vectors are flattened to ``c_0`` (width ``W = F * D``) and crossed by
    ``num_cross_layers`` gated cross layers. ``parallel`` concatenates the cross output with a
    DNN over ``c_0`` (``H = W + hidden_units[-1]``); ``stacked`` runs the DNN on the cross
    output (``H = hidden_units[-1]``). The DNN is recforge's registered ``mlp`` layer.
    Defaults follow FuxiCTR's GDCN template (3 cross layers, DNN [400, 400, 400]).

    Args:
        num_cross_layers: number of gated cross layers.
        structure: ``parallel`` (GDCN-P) or ``stacked`` (GDCN-S).
        hidden_units: hidden sizes of the DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.

    Example:
        model:
          interaction: {name: gdcn, params: {structure: parallel, num_cross_layers: 3}}
    """

    name = "gdcn"
    version = "1"
    #: crossing a single flat field is meaningful (it is a DCN-style layer)
    accepts_flat = True

    @dataclass
    class Params:
        num_cross_layers: int = param(3, "number of gated cross layers")
        structure: Literal["parallel", "stacked"] = param("parallel", "DNN beside (GDCN-P) or on top of (GDCN-S) the cross net")
        hidden_units: list[int] = param([400, 400, 400], "hidden sizes of the DNN")
        activation: str = param("relu", "DNN hidden activation")
        dropout: float = param(0.0, "DNN dropout")
        batch_norm: bool = param(False, "BatchNorm1d in the DNN")

    def __init__(self, num_fields: int, dim: int, params: GDCN.Params) -> None:
        super().__init__()
        if num_fields < 1 or dim < 1:
            raise ConfigError(f"interaction '{self.name}' got num_fields={num_fields}, dim={dim}",
                              fix="give it at least one field and an embedding dim >= 1")
        if params.num_cross_layers < 1:
            raise ConfigError(f"interaction '{self.name}' param 'num_cross_layers' = {params.num_cross_layers} "
                              "must be >= 1", fix="set num_cross_layers to e.g. 3")
        if not params.hidden_units:
            raise ConfigError(f"interaction '{self.name}' param 'hidden_units' is empty",
                              fix="give the DNN at least one hidden size, e.g. [400, 400, 400]")
        width = num_fields * dim
        self.structure = params.structure
        self.cross = GatedCrossNetwork(width, params.num_cross_layers)
        mlp = {"name": "mlp", "params": {"hidden_units": list(params.hidden_units), "activation": params.activation,
                                          "dropout": params.dropout, "batch_norm": params.batch_norm}}
        self.dnn = build_interaction(mlp, 1, width)  # the registered mlp (validates its params)
        self.output_dim = int(self.dnn.output_dim) + (width if self.structure == "parallel" else 0)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[B, F, D]`` field vectors -> ``[B, H]``."""
        x0 = x.flatten(1)
        crossed = self.cross(x0)
        if self.structure == "stacked":
            return self.dnn(crossed.unsqueeze(1))
        return torch.cat([crossed, self.dnn(x0.unsqueeze(1))], dim=1)
