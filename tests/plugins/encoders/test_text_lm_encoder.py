"""``text-lm`` / ``text-seq`` with the real offline MiniLM: pooling known answers, cache, precision."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from recforge.core.components import PrepareContext, SharedTables, build_params
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError
from recforge.plugins.encoders import lm_backend
from recforge.plugins.encoders.lm_backend import LMBackend, default_model
from recforge.plugins.encoders.text_lm import TextLMEncoder
from recforge.plugins.encoders.text_seq import TextSequenceEncoder

TITLES = ["", "", "Toy Story (1995)", "GoldenEye (1995)", "Four Rooms (1995)",
          "Get Shorty (1995)", "Twelve Monkeys, also known as 12 Monkeys (1995)"]


def title_field() -> FieldInfo:
    return FieldInfo(name="title", kind="text", role="item", texts=list(TITLES), vocab_size=len(TITLES), vocab_key="title")


def make(cls, fields, dim=8, **params):
    return cls(fields, dim, build_params(cls, params), SharedTables())


@pytest.fixture(scope="module")
def reference() -> tuple:
    path = default_model()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def manual_hidden(reference, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    tok, model = reference
    enc = tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        return model(**enc).last_hidden_state, enc["attention_mask"]


def test_mean_pooling_equals_manual_masked_mean(reference) -> None:
    enc = make(TextLMEncoder, [title_field()], normalize=False, dropout=0.0)
    enc.prepare(PrepareContext())
    hidden, mask = manual_hidden(reference, TITLES[2:])
    m = mask.unsqueeze(-1).float()
    expected = (hidden * m).sum(1) / m.sum(1)
    assert torch.allclose(enc.bank.bank[2:], expected, atol=1e-4)
    assert torch.equal(enc.bank.bank[:2], torch.zeros(2, 384))  # empty / unknown text
    enc.eval()
    out = enc({"title": torch.tensor([3, 0, 2])}, {})
    assert out.shape == (3, 1, 8)
    lin = enc.projection.linear
    assert torch.allclose(out[0, 0], expected[1] @ lin.weight.T + lin.bias, atol=1e-4)


@pytest.mark.parametrize("pooling", ["cls", "last-token"])
def test_cls_and_last_token_pooling(reference, pooling: str) -> None:
    lm = LMBackend("", pooling, 128)
    got = lm.encode(TITLES[2:5])
    hidden, mask = manual_hidden(reference, TITLES[2:5])
    last = mask.sum(1) - 1
    expected = hidden[:, 0] if pooling == "cls" else hidden[torch.arange(3), last]
    assert torch.allclose(got, expected, atol=1e-4)


@pytest.mark.slow
def test_cache_hit_makes_zero_model_calls_also_in_another_process() -> None:
    first = make(TextLMEncoder, [title_field()])
    first.prepare(PrepareContext())
    loads = lm_backend.LOADS
    backend = lm_backend.shared_backend("", "mean", 128, "fp32", "cpu")
    calls = backend.calls
    second = make(TextLMEncoder, [title_field()])
    second.prepare(PrepareContext())
    assert backend.calls == calls and lm_backend.LOADS == loads
    assert torch.equal(first.bank.bank, second.bank.bank)
    script = f"""
import torch
from recforge.core.components import PrepareContext, SharedTables, build_params
from recforge.core.data.schema import FieldInfo
from recforge.plugins.encoders import lm_backend
from recforge.plugins.encoders.text_lm import TextLMEncoder
field = FieldInfo(name="title", kind="text", role="item", texts={TITLES!r})
enc = TextLMEncoder([field], 8, build_params(TextLMEncoder, {{}}), SharedTables())
enc.prepare(PrepareContext())
print(lm_backend.LOADS, float(enc.bank.bank.sum()))
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                         env=dict(os.environ)).stdout.split()
    assert out[0] == "0"
    assert abs(float(out[1]) - float(first.bank.bank.sum())) < 1e-3


def test_saved_state_is_self_contained() -> None:
    enc = make(TextLMEncoder, [title_field()], rank=4)
    enc.prepare(PrepareContext())
    state = enc.state_dict()
    assert {"bank.bank", "bank.ready", "projection.basis"} <= set(state)
    assert not any(k.startswith("lm.") for k in state)  # frozen: no model weights saved
    clone = make(TextLMEncoder, [title_field()], rank=4)
    clone.load_state_dict(state)
    enc.eval(), clone.eval()
    idx = {"title": torch.tensor([2, 6])}
    assert torch.equal(enc(idx, {}), clone(idx, {}))
    # a model saved with fewer texts: the new ones are encoded on prepare
    grown = FieldInfo(name="title", kind="text", role="item", texts=TITLES + ["Heat (1995)"])
    bigger = make(TextLMEncoder, [grown], rank=4)
    bigger.load_state_dict(state)
    assert not bool(bigger.bank.ready[-1])
    bigger.prepare(PrepareContext())
    assert bool(bigger.bank.ready.all()) and float(bigger.bank.bank[-1].abs().sum()) > 0


def test_int8_and_bf16_keep_cosine_to_fp32() -> None:
    texts = TITLES[2:]
    ref = LMBackend("", "mean", 128, "fp32").encode(texts)
    bf16 = LMBackend("", "mean", 128, "bf16").encode(texts)
    int8 = LMBackend("", "mean", 128, "int8").encode(texts)
    assert torch.nn.functional.cosine_similarity(bf16, ref).min() >= 0.99
    assert torch.nn.functional.cosine_similarity(int8, ref).mean() >= 0.99


def test_template_and_precision_change_the_cache_key() -> None:
    base = make(TextLMEncoder, [title_field()]).bank.cache_config().key
    assert make(TextLMEncoder, [title_field()], template="movie: {text}").bank.cache_config().key != base
    assert make(TextLMEncoder, [title_field()], max_length=16).bank.cache_config().key != base
    with pytest.raises(ConfigError, match="template"):
        make(TextLMEncoder, [title_field()], template="{title}")


def test_finetune_trains_only_top_layers_and_exposes_lm_lr() -> None:
    enc = make(TextLMEncoder, [title_field()], mode="finetune", finetune_layers=1, lm_lr=1e-5)
    enc.train()
    out = enc({"title": torch.tensor([2, 3, 2, 0])}, {})
    out.sum().backward()
    layers = enc.lm.lm.encoder.layer
    assert layers[-1].attention.self.query.weight.grad is not None
    assert layers[0].attention.self.query.weight.grad is None
    groups = enc.param_groups()
    assert groups[-1]["lr"] == 1e-5 and len(groups[-1]["params"]) == len(list(layers[-1].parameters()))
    with pytest.raises(ConfigError, match="fp32"):
        make(TextLMEncoder, [title_field()], mode="finetune", precision="bf16")


def test_text_seq_mean_over_history_ignores_padding() -> None:
    history = FieldInfo(name="clicked", kind="sequence", role="user", vocab_size=len(TITLES), vocab_key="title", max_len=3)
    enc = make(TextSequenceEncoder, [history, title_field()], dropout=0.0)
    enc.prepare(PrepareContext())
    enc.eval()
    idx = torch.tensor([[2, 4, 0], [0, 0, 0]])
    out = enc({"clicked": idx}, {})[:, 0]
    projected = enc.projection(enc.bank.bank[torch.tensor([2, 4])])
    assert torch.allclose(out[0], projected.mean(0), atol=1e-5)
    assert torch.equal(out[1], torch.zeros(8))


def test_optimizer_trains_the_lm_at_lm_lr_and_the_rest_at_the_trainer_lr() -> None:
    """The optimiser takes text-lm's declared groups: the LM layers at lm_lr (not train.lr),
    the projection with proj_weight_decay; one Adam step moves each LM weight by about lm_lr."""
    from recforge.core.optim import make_optimizer
    from recforge.core.train import TrainSettings

    enc = make(TextLMEncoder, [title_field()], mode="finetune", finetune_layers=1, lm_lr=3e-5,
               proj_weight_decay=0.25)
    settings = TrainSettings.from_config({"lr": 1e-3})
    opt = make_optimizer(enc, settings)
    layer = enc.lm.lm.encoder.layer[-1]
    lm_ids = {id(p) for p in layer.parameters()}
    by_param = {id(p): g for g in opt.param_groups for p in g["params"]}
    assert {by_param[i]["lr"] for i in lm_ids} == {3e-5}
    assert {by_param[id(p)]["weight_decay"] for p in enc.projection.parameters()} == {0.25}
    assert {by_param[id(p)]["lr"] for p in enc.projection.parameters()} == {1e-3}
    weight = layer.attention.self.query.weight
    before = weight.detach().clone()
    enc.train()
    enc({"title": torch.tensor([2, 3, 2, 0])}, {}).pow(2).sum().backward()
    opt.step()
    step = (weight.detach() - before).abs()
    assert step.max() <= 3e-5 * 1.01 and step.max() >= 3e-5 * 0.5  # Adam's first step: ~lr per weight
