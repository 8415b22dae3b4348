"""The towers encode an entity's fields dependencies first, whatever order the config lists them
in: an ``id-text`` item id listed before its text field still reads the text's vector."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recforge.plugins.rankers._features import EntityFeatures


class _Text(nn.Module):
    depends_on: tuple[str, ...] = ()

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        return batch["title"].float().view(-1, 1, 1)


class _IdFromText(nn.Module):
    """Reads the text field's vector, as id-text does for an unknown id."""

    depends_on = ("title",)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        return encoded["title"] * 10 + batch["item_id"].float().view(-1, 1, 1)


def test_dependency_listed_after_its_dependant_is_encoded_first():
    lookups = {"lookup_item__item_id": torch.tensor([0, 1, 2]), "lookup_item__title": torch.tensor([5, 6, 7])}
    features = EntityFeatures({"item_id": _IdFromText(), "title": _Text()},
                              {"item_id": "item", "title": "item"}, lookups)
    out = features.encode("item", torch.tensor([2, 0]))
    # stacked in the listed order (item_id, title), computed title first
    assert out.shape == (2, 2, 1)
    assert out[:, 0, 0].tolist() == [72.0, 50.0]
    assert out[:, 1, 0].tolist() == [7.0, 5.0]
    rows = features.encode_batch("item", {"item_id": torch.tensor([1]), "title": torch.tensor([6])})
    assert rows[:, :, 0].tolist() == [[61.0, 6.0]]
