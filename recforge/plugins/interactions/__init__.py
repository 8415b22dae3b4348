"""Built-in interactions plugin: every feature-interaction layer and the classic-model presets.

Layers map field vectors ``[B, F, D]`` to ``[B, H]`` (see ``recforge.core.components``);
presets are compositions of them (``recforge.core.composition``). ``finalmlp`` is both a
layer and the FinalMLP model; the FiBiNET model (with its linear part) is ``fibinet-model``.
"""

from __future__ import annotations

from recforge.core.components import Interaction
from recforge.core.hookspecs import Register, hookimpl
from recforge.plugins.interactions.afm import AFM
from recforge.plugins.interactions.afn import AFN
from recforge.plugins.interactions.attention_fusion import AttentionFusion
from recforge.plugins.interactions.autoint import AutoInt
from recforge.plugins.interactions.cin import CIN
from recforge.plugins.interactions.crossnet import CrossNet, CrossNetV2
from recforge.plugins.interactions.fibinet import FiBiNET
from recforge.plugins.interactions.finalmlp import FinalMLP
from recforge.plugins.interactions.fm import FM, FwFM
from recforge.plugins.interactions.gating import Gating
from recforge.plugins.interactions.lr import LR
from recforge.plugins.interactions.masknet import MaskNet
from recforge.plugins.interactions.mlp import MLP
from recforge.plugins.interactions.nfm import NFM
from recforge.plugins.interactions.pnn import IPNN, OPNN
from recforge.plugins.interactions.presets import PRESETS

LAYERS: tuple[type[Interaction], ...] = (
    LR,
    FM,
    FwFM,
    AFM,
    NFM,
    IPNN,
    OPNN,
    CrossNet,
    CrossNetV2,
    CIN,
    AutoInt,
    FiBiNET,
    AFN,
    FinalMLP,
    MaskNet,
    MLP,
    AttentionFusion,
    Gating,
)
BUILTIN_INTERACTIONS: tuple[type[Interaction], ...] = LAYERS + PRESETS


@hookimpl
def register_interactions(register: Register) -> None:
    """Register the built-in interaction layers and presets."""
    for cls in BUILTIN_INTERACTIONS:
        register(cls)
