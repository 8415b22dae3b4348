"""Built-in rankers plugin: head rankers through `register_rankers`, whole models through
`register_models`.

Head rankers (``ctr``, ``rating``) sit on top of encoders and an interaction; whole models
(``bpr``, ``softmax``, ``two-tower``, ``mf``, ``lightgcn``, ``itemknn``, ``content``,
``ensemble``, ``popular``; next-item: ``sasrec``, ``gru4rec``) build themselves with
``from_prepared``. A config names either in ``model.ranker``.
"""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl
from recforge.plugins.rankers.bpr import BPR
from recforge.plugins.rankers.content import ContentBased
from recforge.plugins.rankers.ctr import CTRRanker
from recforge.plugins.rankers.ensemble import Ensemble
from recforge.plugins.rankers.gru4rec import GRU4Rec
from recforge.plugins.rankers.itemknn import ItemKNN
from recforge.plugins.rankers.lightgcn import LightGCN
from recforge.plugins.rankers.mf import MatrixFactorization
from recforge.plugins.rankers.popular import Popular
from recforge.plugins.rankers.rating import RatingRanker
from recforge.plugins.rankers.sasrec import SASRec
from recforge.plugins.rankers.softmax import SampledSoftmax
from recforge.plugins.rankers.two_tower import TwoTower

BUILTIN_RANKERS = (CTRRanker, RatingRanker)
BUILTIN_MODELS = (BPR, SampledSoftmax, TwoTower, MatrixFactorization, LightGCN, ItemKNN, ContentBased, Ensemble,
                  Popular, SASRec, GRU4Rec)


@hookimpl
def register_rankers(register: Register) -> None:
    """Register the built-in head rankers."""
    for cls in BUILTIN_RANKERS:
        register(cls)


@hookimpl
def register_models(register: Register) -> None:
    """Register the built-in whole models."""
    for cls in BUILTIN_MODELS:
        register(cls)
