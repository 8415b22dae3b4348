"""Classic CTR models as presets: registered interactions built with :func:`build_interaction`.

Each preset writes its model as a composition spec (so a user can write the same thing by
hand in a config) and exposes only the knobs that matter. Defaults are FuxiCTR's
``<Model>_default`` templates (model_zoo/<Model>/config/model_config.yaml); AutoInt+ follows
FuxiCTR's published AutoInt config (3 layers, 2 heads, head size = embedding dim, DNN
[400, 400]). Every preset outputs one logit, ``H = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from recforge.core.components import Interaction, param
from recforge.core.composition import build_interaction


@dataclass
class DeepParams:
    """The DNN knobs every preset shares."""

    hidden_units: list[int] = param([300, 300, 300], "hidden sizes of the DNN part")
    activation: str = param("relu", "DNN hidden activation")
    dropout: float = param(0.0, "DNN dropout")
    batch_norm: bool = param(False, "BatchNorm1d in the DNN")


def _mlp(params: Any, hidden_units: list[int] | None = None) -> dict[str, Any]:
    return {
        "name": "mlp",
        "params": {
            "hidden_units": list(hidden_units if hidden_units is not None else params.hidden_units),
            "activation": params.activation,
            "dropout": params.dropout,
            "batch_norm": params.batch_norm,
        },
    }


class _Preset(Interaction):
    """A named composition: subclasses say how their params become a spec."""

    @classmethod
    def spec(cls, params: Any) -> Any:
        """The composition spec this preset builds for ``params``."""
        raise NotImplementedError

    def __init__(self, num_fields: int, dim: int, params: Any) -> None:
        super().__init__()
        self.net = build_interaction(self.spec(params), num_fields, dim)
        self.output_dim = self.net.output_dim
        self.accepts_flat = self.net.accepts_flat

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class WideDeep(_Preset):
    """Wide & Deep: ``lr`` + ``mlp``, logits summed.

    Args:
        hidden_units: hidden sizes of the DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.

    Example:
        interaction: {name: wdl, params: {hidden_units: [300, 300, 300]}}
    """

    name = "wdl"
    Params = DeepParams

    @classmethod
    def spec(cls, params: Any) -> Any:
        return {"parallel": ["lr", _mlp(params)], "combine": "sum"}


class DeepFM(_Preset):
    """DeepFM: ``lr`` + ``fm`` + ``mlp`` over shared embeddings, logits summed.

    Args:
        hidden_units: hidden sizes of the DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.

    Example:
        interaction: {name: deepfm, params: {hidden_units: [300, 300, 300]}}
    """

    name = "deepfm"
    Params = DeepParams

    @classmethod
    def spec(cls, params: Any) -> Any:
        return {"parallel": ["lr", "fm", _mlp(params)], "combine": "sum"}


@dataclass
class DCNParams(DeepParams):
    """DCN knobs."""

    hidden_units: list[int] = param([1024, 512, 256], "hidden sizes of the DNN part")
    num_cross_layers: int = param(3, "number of cross layers")


class DCN(_Preset):
    """Deep & Cross Network: ``crossnet`` and ``mlp`` in parallel, projected and summed.

    Args:
        hidden_units: hidden sizes of the DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.
        num_cross_layers: number of cross layers.

    Example:
        interaction: {name: dcn, params: {num_cross_layers: 3}}
    """

    name = "dcn"
    Params = DCNParams

    @classmethod
    def spec(cls, params: Any) -> Any:
        cross = {"name": "crossnet", "params": {"num_layers": params.num_cross_layers}}
        return {"parallel": [cross, _mlp(params)], "combine": "sum"}


@dataclass
class DCNv2Params(DeepParams):
    """DCNv2 knobs."""

    hidden_units: list[int] = param([500, 500, 500], "hidden sizes of the DNN part")
    structure: Literal["parallel", "stacked", "crossnet_only"] = param(
        "parallel",
        "cross net and DNN side by side, DNN on top of the cross net, or cross net alone",
    )
    num_cross_layers: int = param(3, "number of cross layers")
    low_rank: int = param(0, "rank of the mixture experts; 0 = full-rank (DCN-Mix when > 0)")
    num_experts: int = param(4, "experts per cross layer when low_rank > 0")


class DCNv2(_Preset):
    """DCNv2 / DCN-Mix: ``crossnet-v2`` with an ``mlp`` in parallel or stacked on top.

    Args:
        hidden_units: hidden sizes of the DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.
        structure: ``parallel``, ``stacked`` or ``crossnet_only``.
        num_cross_layers: number of cross layers.
        low_rank: rank of the mixture of low-rank experts (0 = full-rank DCNv2).
        num_experts: experts per cross layer.

    Example:
        interaction: {name: dcnv2, params: {structure: stacked, low_rank: 32}}
    """

    name = "dcnv2"
    Params = DCNv2Params

    @classmethod
    def spec(cls, params: Any) -> Any:
        cross = {
            "name": "crossnet-v2",
            "params": {
                "num_layers": params.num_cross_layers,
                "low_rank": params.low_rank,
                "num_experts": params.num_experts,
            },
        }
        if params.structure == "parallel":
            return {"parallel": [cross, _mlp(params)], "combine": "sum"}
        if params.structure == "stacked":
            return {"parallel": [{"stack": [cross, _mlp(params)]}], "combine": "sum"}
        return {"parallel": [cross], "combine": "sum"}


@dataclass
class XDeepFMParams(DeepParams):
    """xDeepFM knobs."""

    hidden_units: list[int] = param([500, 500, 500], "hidden sizes of the DNN part")
    cin_units: list[int] = param([32, 32, 32], "feature maps per CIN layer")


class XDeepFM(_Preset):
    """xDeepFM: ``lr`` + ``cin`` + ``mlp``, each projected to a logit and summed.

    Args:
        hidden_units: hidden sizes of the DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.
        cin_units: feature maps per CIN layer.

    Example:
        interaction: {name: xdeepfm, params: {cin_units: [32, 32, 32]}}
    """

    name = "xdeepfm"
    Params = XDeepFMParams

    @classmethod
    def spec(cls, params: Any) -> Any:
        cin = {"name": "cin", "params": {"layer_units": list(params.cin_units)}}
        return {"parallel": ["lr", cin, _mlp(params)], "combine": "sum"}


@dataclass
class AutoIntPlusParams(DeepParams):
    """AutoInt+ knobs."""

    hidden_units: list[int] = param([400, 400], "hidden sizes of the parallel DNN")
    attention_layers: int = param(3, "number of self-attention layers")
    num_heads: int = param(2, "attention heads per layer")
    attention_dim: int = param(0, "size of each head; 0 = the embedding dim")
    use_residual: bool = param(True, "residual projections in the attention layers")
    use_scale: bool = param(False, "scale attention scores by 1/sqrt(attention_dim)")
    layer_norm: bool = param(False, "LayerNorm after each attention layer")
    use_wide: bool = param(False, "add the first-order lr term")


class AutoIntPlus(_Preset):
    """AutoInt+: ``autoint`` self-attention with a parallel ``mlp`` (optionally ``lr``), summed.

    Args:
        hidden_units: hidden sizes of the parallel DNN.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.
        attention_layers: number of self-attention layers.
        num_heads: attention heads per layer.
        attention_dim: size of each head (0 = embedding dim).
        use_residual: residual projections in the attention layers.
        use_scale: scale attention scores.
        layer_norm: LayerNorm after each attention layer.
        use_wide: add the first-order term.

    Example:
        interaction: {name: autoint+, params: {attention_layers: 3, num_heads: 2}}
    """

    name = "autoint+"
    Params = AutoIntPlusParams

    @classmethod
    def spec(cls, params: Any) -> Any:
        attention = {
            "name": "autoint",
            "params": {
                "num_layers": params.attention_layers,
                "num_heads": params.num_heads,
                "attention_dim": params.attention_dim,
                "use_residual": params.use_residual,
                "use_scale": params.use_scale,
                "layer_norm": params.layer_norm,
            },
        }
        branches: list[Any] = ["lr"] if params.use_wide else []
        return {"parallel": [*branches, attention, _mlp(params)], "combine": "sum"}


@dataclass
class FiBiNETParams(DeepParams):
    """FiBiNET knobs."""

    hidden_units: list[int] = param(
        [500, 500, 500], "hidden sizes of the DNN over the bilinear outputs"
    )
    reduction_ratio: float = param(3.0, "SENET squeeze ratio")
    bilinear_type: Literal["field_all", "field_each", "field_interaction"] = param(
        "field_interaction", "one shared W, one per field, or one per field pair"
    )


class FiBiNETModel(_Preset):
    """FiBiNET as a model: ``lr`` + the ``fibinet`` layer (SENET, bilinear, DNN), summed.

    Args:
        hidden_units: hidden sizes of the DNN over the bilinear outputs.
        activation: DNN hidden activation.
        dropout: DNN dropout.
        batch_norm: BatchNorm1d in the DNN.
        reduction_ratio: SENET squeeze ratio.
        bilinear_type: ``field_all``, ``field_each`` or ``field_interaction``.

    Example:
        interaction: {name: fibinet-model, params: {bilinear_type: field_each}}
    """

    name = "fibinet-model"
    Params = FiBiNETParams

    @classmethod
    def spec(cls, params: Any) -> Any:
        body = {
            "name": "fibinet",
            "params": {
                "reduction_ratio": params.reduction_ratio,
                "bilinear_type": params.bilinear_type,
                "hidden_units": list(params.hidden_units),
                "activation": params.activation,
                "dropout": params.dropout,
                "batch_norm": params.batch_norm,
            },
        }
        return {"parallel": ["lr", body], "combine": "sum"}


PRESETS: tuple[type[Interaction], ...] = (
    WideDeep,
    DeepFM,
    DCN,
    DCNv2,
    XDeepFM,
    AutoIntPlus,
    FiBiNETModel,
)
