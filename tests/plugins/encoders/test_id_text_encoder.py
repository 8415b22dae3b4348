"""``id-text``: known ids use their embedding, unknown ids their mapped text; id dropout and the
alignment loss (added to the model's training loss) during training only."""

from __future__ import annotations

import pytest
import torch

from recforge.core.aux_loss import auxiliary_losses
from recforge.core.components import SharedTables
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError
from recforge.plugins.encoders.id_text import IdTextEncoder


def encoder(**params) -> IdTextEncoder:
    field = FieldInfo(name="item_id", kind="categorical", role="item", vocab_size=6, vocab_key="item_id")
    torch.manual_seed(0)
    return IdTextEncoder([field], 4, IdTextEncoder.Params(text_field="item_text", **params), SharedTables())


def test_unknown_ids_use_the_mapped_text_known_ids_their_embedding() -> None:
    enc = encoder(id_dropout=0.5).eval()
    ids = torch.tensor([2, 1, 5])  # 1 = unknown (a cold item)
    text = torch.randn(3, 1, 4)
    out = enc({"item_id": ids}, {"item_text": text})[:, 0]
    assert torch.allclose(out[0], enc.table.weight[2]) and torch.allclose(out[2], enc.table.weight[5])
    assert torch.allclose(out[1], enc.mapper(text[1, 0]))
    assert enc.auxiliary_loss() is None  # nothing in eval mode


def test_training_drops_ids_and_leaves_an_alignment_loss() -> None:
    enc = encoder(id_dropout=0.5, align="contrastive", align_weight=0.2).train()
    ids = torch.arange(2, 6).repeat(50)
    text = torch.randn(200, 1, 4)
    out = enc({"item_id": ids}, {"item_text": text})[:, 0]
    from_text = torch.isclose(out, enc.mapper(text[:, 0]), atol=1e-6).all(1)
    assert 0.35 < float(from_text.float().mean()) < 0.65  # about id_dropout of the rows
    model = torch.nn.Sequential(enc)
    loss = auxiliary_losses(model)
    assert isinstance(loss, torch.Tensor) and float(loss.detach()) > 0
    loss.backward()
    assert enc.mapper.weight.grad is not None and enc.table.weight.grad is None  # id embeddings are the target
    assert auxiliary_losses(model) == 0.0  # handed out once


def test_mse_alignment_and_bad_params() -> None:
    enc = encoder(id_dropout=0.0, align="mse", align_weight=1.0).train()
    ids = torch.tensor([2, 3])
    text = torch.randn(2, 1, 4)
    enc({"item_id": ids}, {"item_text": text})
    expected = torch.nn.functional.mse_loss(enc.mapper(text[:, 0]), enc.table.weight[ids])
    assert torch.allclose(enc.auxiliary_loss(), expected)
    with pytest.raises(ConfigError, match="text_field"):
        IdTextEncoder([FieldInfo(name="item_id", kind="categorical", role="item", vocab_size=6)], 4, IdTextEncoder.Params(), SharedTables())
    with pytest.raises(ConfigError, match="id_dropout"):
        encoder(id_dropout=1.0)
