"""The fused categorical lookup: same numbers as per-field tables, per-field semantics kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from trainer_fixtures import ensure_components, make_prepared, model_config

from recforge.core import fused_lookup
from recforge.core.fused_lookup import slot_plan
from recforge.core.model import build_model, component_names
from recforge.core.train import Trainer, TrainSettings
from recforge.plugins.encoders.categorical import FusedLookup

CATEGORICAL = ["user_id", "item_id", "gender"]


@pytest.fixture(scope="module")
def prepared():
    ensure_components()
    return make_prepared()


def _pair(prepared, monkeypatch, config):
    """The same config built fused and unfused from the same seed."""
    torch.manual_seed(3)
    fused = build_model(config, prepared)
    with monkeypatch.context() as m:
        m.setattr(fused_lookup, "fuse_lookups", lambda encoders, tables, lr_groups=(): (encoders, None))
        torch.manual_seed(3)
        plain = build_model(config, prepared)
    return fused, plain


def test_plain_categorical_fields_share_one_table(prepared):
    model = build_model(model_config("fm"), prepared)
    assert isinstance(model.fused, FusedLookup) and model.fused.names == CATEGORICAL
    assert list(model.encoders) == ["genres"] and model.field_names == [*CATEGORICAL, "genres"]
    sizes = [prepared.fields[n].vocab_size for n in CATEGORICAL]
    # one shared padding row, then every field's rows from its unknown index on
    assert model.fused.table.num_embeddings == 1 + sum(s - 1 for s in sizes)
    assert not [k for k in model.state_dict() if k.startswith(tuple(f"shared_tables.{n}" for n in CATEGORICAL))]
    assert "categorical" in component_names(model_config("fm"), model)


def test_fused_model_computes_what_per_field_tables_compute(prepared, monkeypatch):
    """Brute-force reference: same init, same vectors, same predictions, same trained weights."""
    config = model_config("deepfm")
    fused, plain = _pair(prepared, monkeypatch, config)
    for name in CATEGORICAL:
        assert torch.equal(fused.fused.field_weight(name), plain.encoders[name].table.weight)
    batch = prepared.splits["train"].batch(torch.arange(64))
    assert torch.equal(fused.field_vectors(batch), plain.field_vectors(batch))
    assert torch.equal(fused.predict(batch), plain.predict(batch))
    settings = TrainSettings.from_config({**config["train"], "epochs": 2, "checkpoint": False})
    for model in (fused, plain):
        Trainer(model, prepared.splits["train"], settings, progress=False).fit()
    for name in CATEGORICAL:
        assert torch.allclose(fused.fused.field_weight(name), plain.encoders[name].table.weight, atol=1e-6)
    fused.eval(), plain.eval()
    assert torch.allclose(fused.predict(batch), plain.predict(batch), atol=1e-5)


def test_padding_rows_stay_zero_and_unknown_rows_are_per_field():
    a, b = torch.nn.Embedding(4, 2, padding_idx=0), torch.nn.Embedding(3, 2, padding_idx=0)
    lookup = FusedLookup(["a", "b"], [a, b])
    batch = {"a": torch.tensor([0, 1, 3]), "b": torch.tensor([2, 0, 1])}
    out = lookup(batch)
    assert out.shape == (3, 2, 2)
    assert torch.equal(out[0, 0], torch.zeros(2)) and torch.equal(out[1, 1], torch.zeros(2))
    assert torch.equal(out[1, 0], a.weight[1]) and torch.equal(out[2, 1], b.weight[1])  # own unknown rows
    assert torch.equal(out[2, 0], a.weight[3]) and torch.equal(out[0, 1], b.weight[2])
    out.sum().backward()
    assert torch.equal(lookup.table.weight.grad[0], torch.zeros(2))  # padding never learns
    # rows: 0 pad | a: 1..3 | b: 4..5 -> a1 a3 b1 b2 used once each, a2 unused
    assert lookup.table.weight.grad[:, 0].tolist() == [0, 1, 0, 1, 1, 1]
    assert torch.equal(lookup(batch, ["b"]), out[:, 1:])  # a subset looks up only its fields


def test_special_fields_and_lr_groups_stay_out_of_the_group(prepared):
    config = model_config("fm")
    config["model"]["encoders"] = {"item_id": {"name": "categorical", "params": {"id_dropout": 0.3}}}
    model = build_model(config, prepared)
    assert model.fused.names == ["user_id", "gender"] and "item_id" in model.encoders
    assert model.field_names == [*CATEGORICAL, "genres"]
    batch = prepared.splits["train"].batch(torch.arange(9))
    model.eval()
    v = model.field_vectors(batch)
    assert torch.equal(v[:, 1], model.encoders["item_id"].table(batch["item_id"].long()))
    assert torch.equal(v[:, 0], model.fused.field_weight("user_id")[batch["user_id"].long()])
    config = model_config("fm", lr_groups={"encoders.user_id": 1e-4})
    assert build_model(config, prepared).fused.names == ["item_id", "gender"]
    config = model_config("fm")
    config["model"]["fields"] = ["user_id", "genres"]
    assert build_model(config, prepared).fused is None  # a single field gains nothing


def test_slot_plan_splits_fused_runs_around_other_encoders():
    assert slot_plan(["a", "b", "c"], ["a", "b", "c"]) == [(None, 0, 3)]
    assert slot_plan(["a", "x", "b", "c", "y"], ["a", "b", "c"]) == [
        (None, 0, 1), ("x", 0, 0), (None, 1, 3), ("y", 0, 0)]


def test_state_dict_round_trip(prepared):
    model = build_model(model_config("fm"), prepared)
    with torch.no_grad():
        model.fused.table.weight[1:].normal_()
    again = build_model(model_config("fm"), prepared)
    again.load_state_dict(model.state_dict())
    batch = prepared.splits["test"].batch(torch.arange(20))
    model.eval(), again.eval()
    assert torch.equal(again.predict(batch), model.predict(batch))


def test_cpu_backward_matches_embedding_backward():
    """The index_add_ backward gives F.embedding's gradient (padding row zero) on repeats."""
    torch.manual_seed(0)
    tables = [torch.nn.Embedding(n, 4, padding_idx=0) for n in (5, 9, 3)]
    lookup = FusedLookup(["a", "b", "c"], tables)
    batch = {k: torch.randint(0, n, (200,)) for k, n in zip("abc", (5, 9, 3))}
    upstream = torch.randn(200, 3, 4)
    (lookup(batch) * upstream).sum().backward()
    weight = lookup.table.weight.detach().clone().requires_grad_(True)
    idx = torch.stack([batch[k] for k in "abc"], dim=1)
    rows = (idx + lookup.base) * (idx != 0)
    (torch.nn.functional.embedding(rows, weight, padding_idx=0) * upstream).sum().backward()
    assert torch.allclose(lookup.table.weight.grad, weight.grad, atol=1e-5)
    assert torch.equal(lookup.table.weight.grad[0], torch.zeros(4))
