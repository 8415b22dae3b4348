"""``ensemble``: several composed models trained side by side, their scores averaged.

A factorisation model's prediction for a (user, item) pair depends noticeably on its random
initialisation: on ml100k-ctr, FMs that differ only in their seed score test AUCs from 0.790 to
0.795, and the average of their logits is better than any of them (five: +0.005). That spread is
variance, and averaging independently trained members is the classic way to remove it.

The members are ordinary composed models (encoders -> interaction -> head) built from this
same ``model`` section, each with its own embedding tables and its own initialisation; an entry
of ``variants`` overrides keys of the section for the members it applies to (e.g. a wider
embedding or another interaction). They train together on the same batches with the sum of
their own losses, so no gradient crosses from one member to another (Adam's updates are per
parameter: each member follows the trajectory it would follow alone on that batch order), and
early stopping watches the ensemble's validation metric.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.components import WholeModel, param
from recforge.core.errors import ConfigError
from recforge.core.model import RecModel, build_model

#: seeds of successive members are this far apart (any odd constant gives distinct seeds)
_SEED_STRIDE = 7919


class Ensemble(WholeModel):
    """Average of ``members`` composed models built from this ``model`` section.

    Predictions average the members' raw scores (logits for CTR heads, ratings for rating
    heads) and then apply the head's output (the sigmoid for CTR): averaging logits keeps the
    confident members' say, as in a product of experts.

    Args:
        members: how many models to train side by side.
        head: the head ranker of each member (``ctr``, ``rating`` or a plugin head).
        variants: overrides of the ``model`` section, applied in turn (member ``k`` takes
            ``variants[k % len(variants)]``); empty = identical members differing only in
            their random initialisation.

    Example:
        model:
          embedding_dim: 16
          interaction: {parallel: [lr, fm], combine: sum}
          ranker: {name: ensemble, params: {members: 8, variants: [{}, {embedding_dim: 32}]}}
    """

    name = "ensemble"
    #: every member is a composed model built from the rest of the model section
    model_keys = frozenset({"embedding_dim", "encoders", "interaction", "interactions", "fields", "dropout",
                            "embedding_regularizer", "net_regularizer", "embedding_init_std"})

    @dataclass
    class Params:
        members: int = param(5, "number of models trained side by side")
        head: str = param("ctr", "head ranker of each member (ctr, rating, ...)")
        variants: list[dict[str, Any]] = param([], "model-section overrides, applied in turn to the members")  # noqa: RUF009

    def __init__(self, members: list[RecModel]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.task = members[0].task

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Ensemble.Params) -> Ensemble:
        """Build every member from the ``model`` section, each from its own seed."""
        if params.members < 1:
            raise ConfigError(f"ensemble members must be at least 1, got {params.members}",
                              fix="set model.ranker.params.members to e.g. 5")
        variants = list(params.variants) or [{}]
        for v in variants:
            if not isinstance(v, dict) or "ranker" in v:
                raise ConfigError(f"ensemble variant {v!r} must be a mapping of model keys other than 'ranker'",
                                  fix="write variants as e.g. [{embedding_dim: 32}, {interaction: deepfm}]")
        from recforge.core.registry import get_registry

        head = get_registry().get(params.head)
        if head.kind != "ranker" or head.cls.standalone:
            raise ConfigError(f"ensemble head '{params.head}' builds a standalone model, not a head",
                              fix="use a head ranker for the members (ctr or rating)")
        base_seed = int(torch.initial_seed()) % (2**31)
        members = []
        for k in range(params.members):
            section = {**copy.deepcopy({key: v for key, v in model_cfg.items() if key != "ranker"}),
                       **copy.deepcopy(variants[k % len(variants)]), "ranker": params.head}
            with torch.random.fork_rng():
                torch.manual_seed(base_seed + k * _SEED_STRIDE)
                member = build_model({"model": section}, prepared)
            if not isinstance(member, RecModel):
                raise ConfigError(f"ensemble head '{params.head}' builds a standalone model, not a head",
                                  fix="use a head ranker for the members (ctr or rating)")
            members.append(member)
        if len({m.task for m in members}) > 1:
            raise ConfigError("ensemble members have different tasks", fix="give every member the same head")
        return cls(members)

    # ----------------------------------------------------------------- training and scoring
    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B]`` mean of the members' raw scores."""
        return torch.stack([m(batch) for m in self.members]).mean(0)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Sum of the members' own losses: each member gets exactly its own gradient."""
        return torch.stack([m.training_loss(batch) for m in self.members]).sum()

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        return self.members[0].head.output(self(batch))

    def prepare(self, context: Any) -> None:
        for member in self.members:
            member.prepare(context)

    # The pair-scoring path is RecModel's: the lookups of member 0 assemble the (user, item)
    # rows (every member was built from the same data, so they hold the same lookups) and
    # ``predict`` averages the members on them.
    def has_pair_scoring(self) -> bool:
        return self.members[0].has_pair_scoring()

    def num_items(self) -> int:
        return self.members[0].num_items()

    def pair_batch(self, users: Tensor, items: Tensor) -> dict[str, Tensor]:
        return self.members[0].pair_batch(users, items)

    score_items = RecModel.score_items

    @torch.no_grad()
    def item_vectors(self, kinds: tuple[str, ...] | None = None) -> Tensor:
        """The members' item vectors side by side ``[I, members x d]``."""
        return torch.cat([m.item_vectors(kinds) for m in self.members], dim=1)
