"""``text-lm`` fine-tuning with the real offline MiniLM: full, top-k layers with cached frozen
lower layers, and LoRA (peft), each at ``lm_lr``; every fine-tuning param live or refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "core"))
from trainer_fixtures import (
    NEW_TITLES,
    SPECS,
    Prepared,
    ensure_components,
    make_frame,
    score_new_titles,
)

from recforge.core.components import PrepareContext, SharedTables, build_params
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.schema import FieldInfo, FieldSpec
from recforge.core.errors import ConfigError
from recforge.core.evaluation import predict_table
from recforge.core.experiment import train_on
from recforge.core.optim import make_optimizer
from recforge.core.saved_model import load_model, save_model
from recforge.core.train import TrainSettings
from recforge.plugins.encoders.lm_finetune import CachedLowerLayers, WholeModel
from recforge.plugins.encoders.text_lm import TextLMEncoder

TITLES = ["", "", "Toy Story (1995)", "GoldenEye (1995)", "Four Rooms (1995)",
          "Get Shorty (1995)", "Twelve Monkeys, also known as 12 Monkeys (1995)", "Babe (1995)"]
BATCHES = [torch.tensor([2, 3, 2, 0]), torch.tensor([4, 5, 6]), torch.tensor([7, 3, 6, 2])]


def title_field() -> FieldInfo:
    return FieldInfo(name="title", kind="text", role="item", texts=list(TITLES), vocab_size=len(TITLES),
                     vocab_key="title")


def make(**params) -> TextLMEncoder:
    torch.manual_seed(0)
    enc = TextLMEncoder([title_field()], 8, build_params(TextLMEncoder, {"dropout": 0.0, **params}), SharedTables())
    enc.prepare(PrepareContext())
    return enc


def full_model_vectors(enc: TextLMEncoder, indices: list[int]) -> torch.Tensor:
    """The language model's own forward (every layer, padded batch with mask) and pooling."""
    ids, mask = enc.lm.collate([enc.token_ids[i] for i in indices])
    with torch.no_grad():
        return enc.lm.pool(enc.lm.lm(input_ids=ids, attention_mask=mask).last_hidden_state, mask)


def train_steps(enc: TextLMEncoder, epochs: int = 2) -> None:
    """A few optimiser steps on a toy loss, the way the trainer builds its optimiser."""
    opt = make_optimizer(enc, TrainSettings.from_config({"lr": 1e-2}))
    enc.train()
    for _ in range(epochs):
        for batch in BATCHES:
            opt.zero_grad()
            enc({"title": batch}, {}).pow(2).sum().backward()
            opt.step()


def lm_snapshot(enc: TextLMEncoder) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in enc.lm.lm.named_parameters()}


def test_top_k_with_the_layer_cache_equals_the_full_model_and_leaves_lower_layers_alone() -> None:
    enc = make(mode="finetune", finetune_layers=2, lm_lr=1e-3)
    assert isinstance(enc.runner, CachedLowerLayers) and enc.runner.cut == 4
    every = list(range(2, len(TITLES)))
    enc.eval()
    with torch.no_grad():
        assert torch.allclose(enc.text_vectors(torch.tensor(every)), full_model_vectors(enc, every), atol=1e-5)
    before = lm_snapshot(enc)
    train_steps(enc)
    after = lm_snapshot(enc)
    top = ("encoder.layer.4.", "encoder.layer.5.")
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(n.startswith(top) for n in changed)  # embeddings and layers 0-3 untouched
    assert any(n.startswith("encoder.layer.4.") for n in changed) and any(n.startswith("encoder.layer.5.") for n in changed)
    # after training, the cached lower states + trained top layers still equal the whole model
    enc.eval()
    with torch.no_grad():
        assert torch.allclose(enc.text_vectors(torch.tensor(every)), full_model_vectors(enc, every), atol=1e-5)


def test_lower_layers_run_once_per_distinct_text_across_epochs() -> None:
    enc = make(mode="finetune", finetune_layers=1)
    layers = enc.lm.lm.encoder.layer
    rows_through = {"embeddings": 0, "layer0": 0, "layer5": 0}

    def counter(name: str):
        def hook(module, args, output) -> None:
            rows_through[name] += output.shape[0]
        return hook

    enc.lm.lm.embeddings.register_forward_hook(counter("embeddings"))
    layers[0].register_forward_hook(counter("layer0"))
    layers[5].register_forward_hook(counter("layer5"))
    train_steps(enc, epochs=3)
    distinct = {i for b in BATCHES for i in b.tolist()}
    assert enc.runner.cache.texts_computed == len(distinct) == len(enc.runner.cache)
    assert rows_through["layer0"] == len(distinct)  # once per distinct text, not per step or epoch
    assert rows_through["embeddings"] == len(distinct)
    assert rows_through["layer5"] == 3 * sum(len(set(b.tolist())) for b in BATCHES)  # the top layer: every step


def test_full_fine_tuning_trains_every_weight_and_runs_the_whole_model() -> None:
    enc = make(mode="finetune", finetune_layers=0, lm_lr=1e-3)
    assert isinstance(enc.runner, WholeModel)  # the embeddings train: nothing below them can be cached
    assert not any(k.startswith("runner.") for k in enc.state_dict())  # the weights are saved once
    before = lm_snapshot(enc)
    train_steps(enc, epochs=1)
    after = lm_snapshot(enc)
    assert not torch.equal(before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"])
    assert not torch.equal(before["encoder.layer.0.attention.self.query.weight"],
                           after["encoder.layer.0.attention.self.query.weight"])


def test_lora_trains_only_the_adapters_at_lm_lr() -> None:
    enc = make(mode="lora", finetune_layers=2, lm_lr=1e-3, lora_rank=4)
    trainable = {n for n, p in enc.lm.lm.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n for n in trainable)
    assert {n.split(".")[2] for n in trainable} == {"4", "5"}  # the top two layers only
    assert {n.split(".")[5] for n in trainable} == {"query", "value"}
    opt = make_optimizer(enc, TrainSettings.from_config({"lr": 1e-2}))
    by_param = {id(p): g for g in opt.param_groups for p in g["params"]}
    named = dict(enc.lm.lm.named_parameters())
    assert {by_param[id(named[n])]["lr"] for n in trainable} == {1e-3}
    assert not any(id(p) in by_param for n, p in named.items() if n not in trainable)
    before = lm_snapshot(enc)
    enc.train()
    enc({"title": BATCHES[0]}, {}).pow(2).sum().backward()
    opt.step()
    after = lm_snapshot(enc)
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and changed <= trainable  # no pretrained weight moved
    step = max(float((after[n] - before[n]).abs().max()) for n in changed if "lora_B" in n)
    assert 0.5e-3 <= step <= 1.01e-3  # Adam's first step moves a weight by about lm_lr
    enc.eval()  # LoRA on the top layers keeps the cache exact
    every = list(range(2, len(TITLES)))
    with torch.no_grad():
        assert torch.allclose(enc.text_vectors(torch.tensor(every)), full_model_vectors(enc, every), atol=1e-5)


def test_lora_without_peft_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft -> ImportError
    with pytest.raises(ConfigError, match=r"recforge\[lora\]") as err:
        make(mode="lora")
    assert "\n" not in str(err.value)


#: fine-tuning param -> (reference params, changed params): the encoder's outcome differs
LIVE = {
    "mode": ({"mode": "finetune"}, {"mode": "lora"}),
    "finetune_layers": ({"mode": "finetune", "finetune_layers": 1}, {"mode": "finetune", "finetune_layers": 2}),
    "lm_lr": ({"mode": "finetune", "lm_lr": 1e-4}, {"mode": "finetune", "lm_lr": 1e-3}),
    "lora_rank": ({"mode": "lora"}, {"mode": "lora", "lora_rank": 2}),
    "lora_alpha": ({"mode": "lora"}, {"mode": "lora", "lora_alpha": 64.0}),
    "lora_dropout": ({"mode": "lora"}, {"mode": "lora", "lora_dropout": 0.5}),
}
#: params of another mode are refused, not ignored
REFUSED = [({"lm_lr": 1e-4}, "lm_lr"), ({"finetune_layers": 1}, "finetune_layers"),
           ({"mode": "finetune", "lora_rank": 4}, "lora_rank"), ({"mode": "frozen", "lora_alpha": 2.0}, "lora_alpha"),
           ({"mode": "finetune", "finetune_layers": -1}, "finetune_layers >= 0"),
           ({"mode": "lora", "lora_dropout": 1.0}, "lora_dropout")]


def outcome(params: dict) -> tuple:
    """Trainable LM parameter count, their lr, and the vectors after two training epochs."""
    enc = make(**params)
    torch.manual_seed(1)
    train_steps(enc)
    enc.eval()
    with torch.no_grad():
        vectors = enc({"title": torch.tensor([2, 3, 4])}, {})
    groups = enc.param_groups()
    return sum(p.numel() for p in enc.lm_trainable), groups[-1]["lr"], vectors


def test_every_fine_tuning_param_is_live_or_refused() -> None:
    declared = {f for f in TextLMEncoder.Params.__dataclass_fields__} - set(TextLMEncoder.Params.__mro__[1].__dataclass_fields__)
    assert declared - {"proj_weight_decay"} == set(LIVE)  # a new param needs a proof here
    for key, (reference, changed) in LIVE.items():
        a, b = outcome(reference), outcome(changed)
        assert a[:2] != b[:2] or not torch.allclose(a[2], b[2]), key
    for params, message in REFUSED:
        with pytest.raises(ConfigError, match=message):
            build_params(TextLMEncoder, params)
    with pytest.raises(ConfigError, match="more than the model's 6"):
        make(mode="finetune", finetune_layers=7)


def test_saved_fine_tuned_model_reloads_identically_and_encodes_new_texts(tmp_path) -> None:
    """A DeepFM whose title encoder fine-tunes its top layer is trained, saved and loaded the way
    ``recforge predict`` loads it: same test predictions, and three new titles run through the
    fine-tuned language model (not the pretrained one, not another title's vector)."""
    ensure_components()
    frame = make_frame(rows=400)
    frame["title"] = [f"{t}: the story of number {i}" for t, i in zip(frame["title"], frame["item_id"])]
    n = len(frame)
    fmap, train = FeatureMap.fit_transform(frame.iloc[: int(0.8 * n)].reset_index(drop=True),
                                           [*SPECS, FieldSpec("title", "text", role="item")])
    splits = {"train": train, "valid": fmap.transform(frame.iloc[int(0.8 * n): int(0.9 * n)].reset_index(drop=True)),
              "test": fmap.transform(frame.iloc[int(0.9 * n):].reset_index(drop=True))}
    prepared = Prepared(fmap, dict(fmap.fields), "label", splits)
    config = {"data": {"recipe": "synthetic"},
              "model": {"embedding_dim": 8, "interaction": "deepfm", "ranker": "ctr",
                        "encoders": {"title": {"name": "text-lm", "params": {
                            "dropout": 0.0, "mode": "finetune", "finetune_layers": 1, "lm_lr": 1e-3, "max_length": 16}}}},
              "train": {"epochs": 1, "batch_size": 128, "lr": 0.01, "seed": 1, "checkpoint": False}}
    result = train_on(config, prepared, tmp_path / "run")
    trained = result.model.encoders["title"]
    pretrained = make(mode="finetune", finetune_layers=1, max_length=16)
    top = "encoder.layer.5.output.dense.weight"
    assert not torch.equal(dict(trained.lm.lm.named_parameters())[top], dict(pretrained.lm.lm.named_parameters())[top])

    folder = save_model(result.model, prepared, config, tmp_path / "model")
    loaded = load_model(folder)
    test = prepared.splits["test"]
    result.model.eval()
    assert torch.equal(predict_table(loaded.model, test), predict_table(result.model, test))

    table, scores = score_new_titles(loaded)
    assert len(set(scores)) == 3, scores
    encoder = loaded.model.encoders["title"]
    field = loaded.data.featuremap.fields["title"]
    idx = table.batch(torch.arange(3))["title"].tolist()
    assert [field.texts[i] for i in idx] == NEW_TITLES
    encoder.eval()
    with torch.no_grad():
        got = encoder.text_vectors(torch.tensor(idx))
        assert torch.allclose(got, full_model_vectors(encoder, idx), atol=1e-5)  # the fine-tuned weights
        pretrained.eval()
        pretrained.token_ids += pretrained.lm.tokenize(NEW_TITLES)
        assert not torch.allclose(got, pretrained.runner.embed_ids(pretrained.token_ids[-3:]), atol=1e-3)
