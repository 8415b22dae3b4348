"""Built-in rankers plugin: registers every built-in ranker through `register_rankers`.

Head rankers (``ctr``, ``rating``) sit on top of encoders and an interaction; standalone
rankers (``bpr``, ``softmax``, ``two-tower``, ``mf``, ``lightgcn``, ``itemknn``, ``content``,
``ensemble``, ``popular``; next-item: ``sasrec``, ``gru4rec``) are whole models built with ``from_prepared``.
"""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl
from recforge.plugins.rankers.bpr import BPR
from recforge.plugins.rankers.content import ContentBased
from recforge.plugins.rankers.ctr import CTRRanker
from recforge.plugins.rankers.ensemble import Ensemble
from recforge.plugins.rankers.itemknn import ItemKNN
from recforge.plugins.rankers.lightgcn import LightGCN
from recforge.plugins.rankers.gru4rec import GRU4Rec
from recforge.plugins.rankers.mf import MatrixFactorization
from recforge.plugins.rankers.popular import Popular
from recforge.plugins.rankers.rating import RatingRanker
from recforge.plugins.rankers.sasrec import SASRec
from recforge.plugins.rankers.softmax import SampledSoftmax
from recforge.plugins.rankers.two_tower import TwoTower

BUILTIN_RANKERS = (CTRRanker, RatingRanker, BPR, SampledSoftmax, TwoTower, MatrixFactorization, LightGCN,
                   ItemKNN, ContentBased, Ensemble, Popular, SASRec, GRU4Rec)


@hookimpl
def register_rankers(register: Register) -> None:
    """Register the built-in rankers."""
    for cls in BUILTIN_RANKERS:
        register(cls)
