"""``afn``: adaptive factorization network (logarithmic neurons)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes


class AFN(Interaction):
    """AFN: logarithmic neurons learn cross features of arbitrary (even fractional) order.

    Neuron ``j`` computes ``exp(sum_i w_ij ln|x_i|) = prod_i |x_i|^{w_ij}`` per embedding
    dimension, so its learned exponents are the order of the cross feature. The ``D x L``
    neuron outputs go through an MLP; ``H`` is its last hidden size.

    Args:
        logarithmic_neurons: number ``L`` of logarithmic neurons.
        hidden_units: sizes of the MLP over the neuron outputs.
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        log_batch_norm: BatchNorm over the log-space fields and the neuron outputs (as the AFN
            paper, for stable training).
        batch_norm: BatchNorm1d after each hidden linear layer.

    Example:
        interaction: {name: afn, params: {logarithmic_neurons: 256, hidden_units: [400, 400]}}
    """

    name = "afn"

    @dataclass
    class Params:
        logarithmic_neurons: int = param(256, "number of logarithmic neurons L")
        hidden_units: list[int] = param([400, 400, 400], "sizes of the MLP over the neurons")
        activation: str = param("relu", "hidden activation")
        dropout: float = param(0.0, "dropout after each hidden layer")
        log_batch_norm: bool = param(True, "BatchNorm in log space and on the neuron outputs")
        batch_norm: bool = param(False, "BatchNorm1d after each hidden linear layer")

    def __init__(self, num_fields: int, dim: int, params: AFN.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(
            self.name,
            logarithmic_neurons=params.logarithmic_neurons,
            hidden_units=params.hidden_units,
        )
        check_rate(self.name, "dropout", params.dropout)
        neurons = params.logarithmic_neurons
        self.coefficients = nn.Linear(num_fields, neurons)
        nn.init.normal_(self.coefficients.weight, std=0.1)
        self.log_norm = nn.BatchNorm1d(num_fields) if params.log_batch_norm else nn.Identity()
        self.exp_norm = nn.BatchNorm1d(dim) if params.log_batch_norm else nn.Identity()
        self.mlp = MLPBlock(
            dim * neurons, params.hidden_units, params.activation, params.dropout, params.batch_norm
        )
        self.output_dim = self.mlp.output_dim

    def forward(self, x: Tensor) -> Tensor:
        logs = self.log_norm(torch.log(x.abs().clamp(min=1e-7)))  # [B, F, D]
        crosses = torch.exp(self.coefficients(logs.transpose(1, 2)).clamp(max=30.0))  # [B, D, L]
        return self.mlp(self.exp_norm(crosses).flatten(1))
