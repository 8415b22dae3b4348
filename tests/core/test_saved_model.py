"""Saved models: round trip, manifest checks (tampering), tied weights, no pickles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from trainer_fixtures import ensure_components, make_prepared, model_config  # noqa: E402

from recforge.core.errors import ArtifactError  # noqa: E402
from recforge.core.model import build_model  # noqa: E402
from recforge.core.saved_model import (  # noqa: E402
    MODEL_FILES,
    _optimizer_state,
    _optimizer_tensors,
    load_model,
    load_tensors,
    save_model,
    save_tensors,
)


@pytest.fixture(scope="module")
def prepared():
    ensure_components()
    return make_prepared()


@pytest.fixture()
def saved(prepared, tmp_path):
    torch.manual_seed(3)
    model = build_model(model_config("deepfm"), prepared)
    with torch.no_grad():  # make the weights non-trivial
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    model.eval()
    folder = save_model(model, prepared, model_config("deepfm"), tmp_path / "model", {"fm": "x==1/1"})
    return model, folder


def test_round_trip_gives_identical_predictions(prepared, saved):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == sorted([*MODEL_FILES, "manifest.json"])
    loaded = load_model(folder)
    batch = prepared.splits["test"].batch(torch.arange(50))
    assert torch.equal(loaded.model.predict(batch), model.predict(batch))
    users = torch.tensor([2, 3, 4])
    assert torch.allclose(loaded.model.score_items(users), model.score_items(users))
    assert loaded.data.user_field == "user_id" and loaded.data.item_field == "item_id"


def test_items_and_seen_files(prepared, saved):
    _, folder = saved
    items = json.loads((folder / "items.json").read_text())
    fmap = prepared.featuremap
    idx = int(fmap.index_of("item_id", ["17"])[0])
    assert items["ids"][idx] == "17" and items["meta"]["title"][idx] == "Movie 17"
    assert items["ids"][:2] == [None, None]
    seen, _ = load_tensors(folder / "seen.safetensors")
    train = prepared.splits["train"].batch(torch.arange(prepared.splits["train"].num_rows))
    u = int(train["user_id"][0])
    expected = sorted(set(train["item_id"][train["user_id"] == u].tolist()))
    assert seen["indices"][seen["indptr"][u]:seen["indptr"][u + 1]].tolist() == expected


def test_tampered_weights_are_rejected(saved):
    _, folder = saved
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model\.safetensors does not match its checksum"):
        load_model(folder)


def test_missing_file_and_missing_manifest(saved):
    _, folder = saved
    (folder / "items.json").unlink()
    with pytest.raises(ArtifactError, match=r"items\.json is missing"):
        load_model(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest.json"):
        load_model(folder)


def test_weights_of_another_model_are_rejected(prepared, saved, tmp_path):
    _, folder = saved
    other = build_model(model_config("fm"), prepared)
    save_tensors(other.state_dict(), folder / "model.safetensors")
    from recforge.core.saved_model import write_manifest

    write_manifest(folder, list(MODEL_FILES))
    with pytest.raises(ArtifactError, match="does not match the model"):
        load_model(folder)


def test_tied_tensors_are_stored_once(tmp_path):
    shared = torch.randn(4, 3)
    save_tensors({"a": shared, "b": shared, "c": torch.ones(2)}, tmp_path / "t.safetensors")
    back, _ = load_tensors(tmp_path / "t.safetensors")
    assert torch.equal(back["a"], shared) and torch.equal(back["b"], shared) and torch.equal(back["c"], torch.ones(2))
    assert b"pickle" not in (tmp_path / "t.safetensors").read_bytes()[:200]


def test_optimizer_state_round_trip():
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()
    tensors, meta = _optimizer_tensors(opt)
    restored = torch.optim.Adam([torch.nn.Parameter(p.detach().clone())], lr=0.5)
    restored.load_state_dict(_optimizer_state(tensors, json.loads(json.dumps(meta))))
    a, b = opt.state_dict(), restored.state_dict()
    assert b["param_groups"][0]["lr"] == 0.1
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert torch.equal(a["state"][0][key], b["state"][0][key])


@pytest.mark.parametrize("ranker", ["bpr", "lightgcn", "itemknn"])
def test_standalone_rankers_round_trip(prepared, tmp_path, ranker):
    """Graph/neighbour models rebuild from the saved training pairs and score identically."""
    from recforge.core.experiment import negative_adder
    from recforge.core.train import Trainer, TrainSettings

    model_section = {"ranker": ranker} if ranker == "itemknn" else {"ranker": ranker, "embedding_dim": 8}
    cfg = {"data": {"recipe": "synthetic"}, "model": model_section,
           "train": {"epochs": 1, "batch_size": 256}}
    model = build_model(cfg, prepared)
    if getattr(model, "trainable", True):
        Trainer(model, prepared.splits["train"], TrainSettings.from_config(cfg["train"]),
                add_negatives=negative_adder(model, prepared, cfg), progress=False).fit()
    else:
        model.fit(prepared)
    loaded = load_model(save_model(model, prepared, cfg, tmp_path / "m"))
    users = torch.arange(2, 8)
    assert torch.allclose(loaded.model.score_items(users), model.score_items(users), atol=1e-5)


def test_negatives_avoid_positives_and_replay_by_seed(prepared):
    from recforge.core.experiment import negative_adder

    model = build_model({"model": {"ranker": "bpr", "embedding_dim": 4}}, prepared)
    add = negative_adder(model, prepared, {"data": {}})
    batch = prepared.splits["train"].batch(torch.arange(300))
    a = add(batch, torch.Generator().manual_seed(1))["neg_item_id"]
    b = add(batch, torch.Generator().manual_seed(1))["neg_item_id"]
    assert torch.equal(a, b) and bool((a >= 2).all())
    train = prepared.splits["train"].batch(torch.arange(prepared.splits["train"].num_rows))
    pos = train["label"] > 0
    positives = set(zip(train["user_id"][pos].tolist(), train["item_id"][pos].tolist()))
    assert not positives & set(zip(batch["user_id"].tolist(), a.tolist()))
    assert negative_adder(build_model(model_config("fm"), prepared), prepared, {}) is None
