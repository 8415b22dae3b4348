"""Known answers for the embedding-based encoders (no language model)."""

from __future__ import annotations

import pytest
import torch

from recforge.core.components import SharedTables, build_params
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError, DataError
from recforge.core.registry import get_registry
from recforge.plugins.encoders import ENCODERS
from recforge.plugins.encoders.categorical import CategoricalEncoder
from recforge.plugins.encoders.multi_categorical import MultiCategoricalEncoder
from recforge.plugins.encoders.numeric import NumericEncoder
from recforge.plugins.encoders.sequence import SequenceEncoder
from recforge.plugins.encoders.vector import VectorEncoder


def make(cls, field: FieldInfo, dim: int = 4, tables: SharedTables | None = None, **params):
    return cls([field], dim, build_params(cls, params), tables or SharedTables())


def cat_field(name: str = "item_id", vocab: int = 10, key: str | None = None, kind: str = "categorical", max_len: int = 0) -> FieldInfo:
    return FieldInfo(name=name, kind=kind, role="item", vocab_size=vocab, vocab_key=key or name, max_len=max_len)


def test_all_registered_with_args_and_example() -> None:
    names = {c.name for c in get_registry().list("encoder")}
    assert {e.name for e in ENCODERS} <= names
    for enc in ENCODERS:
        assert "Args:" in enc.__doc__ and "Example:" in enc.__doc__, enc.name


def test_categorical_lookup_and_padding_zero() -> None:
    enc = make(CategoricalEncoder, cat_field())
    out = enc({"item_id": torch.tensor([0, 3, 3])}, {})
    assert out.shape == (3, 1, 4)
    assert torch.equal(out[0, 0], torch.zeros(4))
    assert torch.equal(out[1], out[2]) and torch.equal(out[1, 0], enc.table.weight[3])


def test_fields_with_same_vocab_share_one_table() -> None:
    tables = SharedTables()
    a = make(CategoricalEncoder, cat_field("item_id"), tables=tables)
    b = make(SequenceEncoder, cat_field("history", key="item_id", kind="sequence", max_len=3), tables=tables)
    assert a.table is b.table
    own = make(CategoricalEncoder, cat_field("other", key="item_id"), tables=tables, share=False)
    assert own.table is not a.table


def test_id_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    enc = make(CategoricalEncoder, cat_field(vocab=100), id_dropout=0.5)
    idx = torch.randint(2, 100, (4000,))
    enc.train()
    dropped = enc.indices({"item_id": idx})
    rate = (dropped == 1).float().mean().item()
    assert 0.45 < rate < 0.55
    assert torch.equal(dropped[dropped != 1], idx[dropped != 1])
    enc.eval()
    assert torch.equal(enc.indices({"item_id": idx}), idx)
    # padding is never dropped
    enc.train()
    assert torch.equal(enc.indices({"item_id": torch.zeros(100, dtype=torch.long)}), torch.zeros(100, dtype=torch.long))


def test_hashing_mode_folds_into_buckets_keeping_pad_and_unknown() -> None:
    enc = make(CategoricalEncoder, cat_field(vocab=1000), hash_buckets=16)
    assert enc.table.num_embeddings == 16
    idx = enc.indices({"item_id": torch.arange(1000)})
    assert idx[0] == 0 and idx[1] == 1 and int(idx[2:].min()) >= 2 and int(idx.max()) < 16


def test_numeric_linear_is_value_times_w_plus_b() -> None:
    enc = make(NumericEncoder, FieldInfo(name="age", kind="numeric", role="user"))
    x = torch.tensor([0.5, -2.0, float("nan")])
    out = enc({"age": x}, {})
    expected = torch.stack([0.5 * enc.weight + enc.bias, -2.0 * enc.weight + enc.bias, enc.bias])
    assert torch.allclose(out[:, 0], expected)


def test_numeric_buckets_from_boundaries() -> None:
    enc = make(NumericEncoder, FieldInfo(name="age", kind="numeric", role="user"), mode="bucket", boundaries=[18, 35])
    out = enc({"age": torch.tensor([10.0, 20.0, 40.0, 35.0])}, {})
    w = enc.buckets.weight
    # torch.bucketize (right=False): 35 falls in bucket 1 (boundaries[i-1] < x <= boundaries[i])
    assert torch.equal(out[:, 0], w[torch.tensor([0, 1, 2, 1])])
    with pytest.raises(ConfigError, match="boundaries"):
        make(NumericEncoder, FieldInfo(name="age", kind="numeric", role="user"), mode="bucket")


@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
def test_multi_categorical_equals_manual_pool(pooling: str) -> None:
    torch.manual_seed(1)
    enc = make(MultiCategoricalEncoder, cat_field("genres", vocab=20, kind="multi_categorical", max_len=4), pooling=pooling)
    nn_w = enc.table.weight
    with torch.no_grad():
        nn_w.normal_()
        nn_w[0].zero_()
    idx = torch.tensor([[2, 5, 0, 0], [7, 0, 0, 0], [0, 0, 0, 0], [3, 3, 4, 9]])
    out = enc({"genres": idx}, {})[:, 0]
    for row in range(4):
        values = [v for v in idx[row].tolist() if v != 0]
        if not values:
            expected = torch.zeros(4)
        else:
            vecs = nn_w[torch.tensor(values)]
            expected = {"mean": vecs.mean(0), "sum": vecs.sum(0), "max": vecs.max(0).values}[pooling]
        assert torch.allclose(out[row], expected, atol=1e-6), (pooling, row)


@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
def test_multi_categorical_gradient_equals_the_embedding_reference(pooling: str) -> None:
    """The CPU training path (index_add_ backward) gives nn.Embedding's gradient, with
    nothing for the padding row even where padding fills most of the batch."""
    torch.manual_seed(3)
    enc = make(MultiCategoricalEncoder, cat_field("genres", vocab=12, kind="multi_categorical", max_len=4), pooling=pooling)
    idx = torch.tensor([[2, 5, 0, 0], [7, 0, 0, 0], [0, 0, 0, 0], [3, 3, 4, 11]])
    upstream = torch.randn(4, 1, enc.table.weight.shape[1])
    (enc({"genres": idx}, {}) * upstream).sum().backward()
    reference = torch.nn.Embedding.from_pretrained(enc.table.weight.detach().clone(), freeze=False, padding_idx=0)
    vecs = reference(idx)
    mask = (idx != 0).unsqueeze(-1).float()
    pooled = {"sum": (vecs * mask).sum(1), "mean": (vecs * mask).sum(1) / mask.sum(1).clamp_min(1.0),
              "max": torch.where(mask.bool().any(1), vecs.masked_fill(~mask.bool(), float("-inf")).amax(1),
                                 torch.zeros(4, vecs.shape[-1]))}[pooling]
    (pooled.unsqueeze(1) * upstream).sum().backward()
    assert torch.allclose(enc.table.weight.grad, reference.weight.grad, atol=1e-6)
    assert torch.all(enc.table.weight.grad[0] == 0)


def test_sequence_mean_and_attention_weights_are_a_distribution() -> None:
    torch.manual_seed(2)
    tables = SharedTables()
    item = make(CategoricalEncoder, cat_field("item_id", vocab=30), tables=tables)
    seq = make(SequenceEncoder, cat_field("history", vocab=30, key="item_id", kind="sequence", max_len=5),
               tables=tables, pooling="attention", target="item_id")
    assert seq.depends_on == ("item_id",)
    batch = {"item_id": torch.tensor([4, 5, 6]),
             "history": torch.tensor([[2, 3, 9, 0, 0], [0, 0, 0, 0, 0], [8, 8, 1, 7, 6]])}
    encoded = {"item_id": item(batch, {})}
    w = seq.attention_weights(batch, encoded)
    assert torch.allclose(w[0].sum(), torch.tensor(1.0)) and torch.allclose(w[2].sum(), torch.tensor(1.0))
    assert torch.all(w[0, 3:] == 0) and torch.all(w[1] == 0) and torch.all(w >= 0)
    out = seq(batch, encoded)[:, 0]
    keys = item.table.weight[batch["history"]]
    assert torch.allclose(out, (w.unsqueeze(-1) * keys).sum(1), atol=1e-6)
    assert torch.equal(out[1], torch.zeros(4))
    mean = make(SequenceEncoder, cat_field("history", vocab=30, key="item_id", kind="sequence"), tables=tables)
    assert torch.allclose(mean(batch, {})[0, 0], keys[0, :3].mean(0))
    with pytest.raises(ConfigError, match="target"):
        seq(batch, {})


def test_vector_projection_and_shape_check() -> None:
    field = FieldInfo(name="poster", kind="vector", role="item", vector_dim=3)
    enc = make(VectorEncoder, field)
    x = torch.randn(5, 3)
    assert torch.allclose(enc({"poster": x}, {})[:, 0], x @ enc.proj.weight.T + enc.proj.bias)
    with pytest.raises(DataError, match="poster"):
        enc({"poster": torch.randn(5, 4)}, {})


def test_wrong_field_kind_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot encode field 'age'"):
        make(CategoricalEncoder, FieldInfo(name="age", kind="numeric", role="user"))
