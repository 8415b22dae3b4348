"""``text-hash``: n-gram features, stable hashing and EmbeddingBag pooling by text index."""

from __future__ import annotations

import torch

from recforge.core.components import SharedTables, build_params
from recforge.core.data.schema import FieldInfo
from recforge.plugins.encoders.text_hash import TextHashEncoder, hashed_bags, text_ngrams


def test_ngrams_known_answer() -> None:
    assert text_ngrams("Toy Story", 2, 3, 3) == [
        "w:toy", "w:story", "w:toy story",
        "c:<to", "c:toy", "c:oy>", "c:<st", "c:sto", "c:tor", "c:ory", "c:ry>",
    ]
    ids, _starts, lengths = hashed_bags(["a b", "a b"], 1000, 1, 3, 0)
    assert lengths.tolist() == [2, 2] and torch.equal(ids[:2], ids[2:])  # stable hash


def test_batch_equals_mean_of_its_ngram_rows() -> None:
    texts = ["", "", "Toy Story (1995)", "GoldenEye (1995)", "Four Rooms"]
    field = FieldInfo(name="title", kind="text", role="item", texts=texts)
    enc = TextHashEncoder([field], 6, build_params(TextHashEncoder, {"buckets": 500}), SharedTables())
    out = enc({"title": torch.tensor([3, 0, 2, 3])}, {})
    assert out.shape == (4, 1, 6)
    ids, _, _ = hashed_bags([texts[3]], 500, 2, 3, 5)
    assert torch.allclose(out[0, 0], enc.bag.weight[ids].mean(0), atol=1e-6)
    assert torch.equal(out[1, 0], torch.zeros(6))  # empty text
    assert torch.allclose(out[0], out[3])
