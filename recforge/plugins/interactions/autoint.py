"""``autoint``: stacked multi-head self-attention over fields, with residual connections."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Explainable, Interaction, param
from recforge.plugins.interactions._blocks import check_positive, check_sizes


class SelfAttentionLayer(nn.Module, Explainable):
    """One multi-head self-attention layer over the field axis, keeping its attention maps."""

    explains = ("last_attention",)

    def __init__(
        self,
        input_dim: int,
        attention_dim: int,
        num_heads: int,
        residual: bool,
        scale: bool,
        layer_norm: bool,
    ) -> None:
        super().__init__()
        out = attention_dim * num_heads
        self.num_heads, self.attention_dim = num_heads, attention_dim
        self.query = nn.Linear(input_dim, out, bias=False)
        self.key = nn.Linear(input_dim, out, bias=False)
        self.value = nn.Linear(input_dim, out, bias=False)
        self.residual = nn.Linear(input_dim, out, bias=False) if residual else None
        self.scale = attention_dim**-0.5 if scale else 1.0
        self.norm = nn.LayerNorm(out) if layer_norm else None
        self.output_dim = out
        self.last_attention: Tensor | None = None

    def _heads(self, t: Tensor) -> Tensor:
        batch, fields, _ = t.shape
        return t.view(batch, fields, self.num_heads, self.attention_dim).transpose(
            1, 2
        )  # [B, h, F, a]

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        attention = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)  # [B, h, F, F]
        self.last_attention = attention.detach()
        out = (attention @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        if self.residual is not None:
            out = out + self.residual(x)
        out = torch.relu(out)
        return self.norm(out) if self.norm is not None else out


class AutoInt(Interaction):
    """AutoInt: fields attend to each other in ``num_layers`` multi-head self-attention layers.

    Each layer maps ``[B, F, d]`` to ``[B, F, heads * attention_dim]`` with a residual
    projection and ReLU; the output is the flattened last layer, ``H = F * heads *
    attention_dim``. ``last_attention`` holds the last forward's attention maps of the last
    layer, ``[B, heads, F, F]`` (rows are distributions over the attended fields);
    ``attention_maps()`` returns every layer's.

    Args:
        num_layers: number of self-attention layers.
        num_heads: attention heads per layer.
        attention_dim: size of each head (0 = the embedding dim).
        use_residual: add a linear residual projection of the layer input.
        use_scale: scale scores by ``1/sqrt(attention_dim)``.
        layer_norm: LayerNorm after each layer.

    Example:
        interaction: {name: autoint, params: {num_layers: 3, num_heads: 2}}
    """

    name = "autoint"
    explains = ("last_attention",)

    @dataclass
    class Params:
        num_layers: int = param(3, "number of self-attention layers")
        num_heads: int = param(2, "attention heads per layer")
        attention_dim: int = param(0, "size of each head; 0 = the embedding dim")
        use_residual: bool = param(True, "add a linear residual projection of the input")
        use_scale: bool = param(False, "scale scores by 1/sqrt(attention_dim)")
        layer_norm: bool = param(False, "LayerNorm after each layer")

    def __init__(self, num_fields: int, dim: int, params: AutoInt.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, num_layers=params.num_layers, num_heads=params.num_heads)
        head = params.attention_dim or dim
        check_positive(self.name, attention_dim=head)
        layers = []
        size = dim
        for _ in range(params.num_layers):
            layer = SelfAttentionLayer(
                size,
                head,
                params.num_heads,
                params.use_residual,
                params.use_scale,
                params.layer_norm,
            )
            layers.append(layer)
            size = layer.output_dim
        self.layers = nn.ModuleList(layers)
        self.output_dim = num_fields * size

    @property
    def last_attention(self) -> Tensor | None:
        """Attention maps ``[B, heads, F, F]`` of the last layer in the last forward."""
        return self.layers[-1].last_attention

    def attention_maps(self) -> list[Tensor | None]:
        """Every layer's attention maps from the last forward."""
        return [layer.last_attention for layer in self.layers]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x.flatten(1)
