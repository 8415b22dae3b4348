"""GRU4Rec: a recurrent network over a session / purchase history (Hidasi et al., ICLR 2016)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from recforge.core.components import param
from recforge.core.errors import ConfigError
from recforge.plugins.rankers._features import EntityFeatures
from recforge.plugins.rankers._sequential import SequentialParams, SequentialRanker


class GRU4Rec(SequentialRanker):
    """A GRU reads the history's item vectors; its state after the last item is the query.

    Being unidirectional, the state at position ``t`` depends on items ``0..t`` only, so
    training predicts the next item at every position (RecBole's GRU4Rec with a full-softmax
    or sampled loss). ``item_fields`` works as in ``sasrec`` (id, id + text, or text only).

    Args:
        layers: stacked GRU layers.
        hidden: GRU state size (0 = embedding_dim); projected back to embedding_dim.
        dropout: dropout on the input item vectors.
        loss / num_negatives / item_fields / history_field: as in ``sasrec``.

    Example:
        model:
          ranker: {name: gru4rec, params: {layers: 1, dropout: 0.2}}
        eval: {protocol: rows, metrics: [recall@10]}
    """

    name = "gru4rec"

    @dataclass
    class Params(SequentialParams):
        layers: int = param(1, "stacked GRU layers")
        hidden: int = param(0, "GRU state size (0 = embedding_dim)")

    def __init__(self, num_users: int, num_items: int, params: GRU4Rec.Params, user_field: str, item_field: str,
                 dim: int, features: EntityFeatures, history: str, max_len: int) -> None:
        super().__init__(num_users, num_items, params, user_field, item_field, dim, features, history, max_len)
        if params.layers < 1 or params.hidden < 0:
            raise ConfigError("gru4rec needs layers >= 1 and hidden >= 0", fix="e.g. layers: 1, hidden: 0")
        hidden = params.hidden or dim
        self.gru = nn.GRU(dim, hidden, num_layers=params.layers, batch_first=True)
        self.out = nn.Linear(hidden, dim)

    def encode_sequence(self, x: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.gru(x)
        return self.out(out)
