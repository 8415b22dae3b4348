"""``ensemble``: members equal single models, own gradients only, logit averaging, save/load."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "core"))
from trainer_fixtures import ensure_components, make_prepared, model_config  # noqa: E402

from recforge.core.errors import ConfigError  # noqa: E402
from recforge.core.experiment import evaluate  # noqa: E402
from recforge.core.model import RecModel, build_model  # noqa: E402
from recforge.core.saved_model import load_model, save_model  # noqa: E402
from recforge.core.train import Trainer, TrainSettings  # noqa: E402
from recforge.plugins.rankers.ensemble import Ensemble  # noqa: E402


@pytest.fixture(scope="module")
def prepared():
    ensure_components()
    return make_prepared()


def ensemble_config(members: int = 3, variants: list | None = None, interaction="fm", **train):
    cfg = model_config(interaction, **train)
    cfg["model"]["ranker"] = {"name": "ensemble", "params": {"members": members, "variants": variants or []}}
    return cfg


def test_member_zero_is_the_single_model_of_the_same_seed(prepared):
    torch.manual_seed(11)
    single = build_model(model_config("fm"), prepared)
    torch.manual_seed(11)
    ens = build_model(ensemble_config(3), prepared)
    assert isinstance(ens, Ensemble) and len(ens.members) == 3
    assert all(isinstance(m, RecModel) for m in ens.members)
    first = dict(ens.members[0].named_parameters())
    for name, p in single.named_parameters():
        assert torch.equal(first[name], p), name
    # the other members start elsewhere (their own seeds)
    table = "fused.table.weight"
    assert not torch.equal(ens.members[1].get_parameter(table), ens.members[0].get_parameter(table))
    assert not torch.equal(ens.members[2].get_parameter(table), ens.members[1].get_parameter(table))


def test_prediction_is_the_sigmoid_of_the_mean_member_logit(prepared):
    torch.manual_seed(0)
    ens = build_model(ensemble_config(3), prepared)
    with torch.no_grad():
        for p in ens.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    ens.eval()
    batch = prepared.splits["test"].batch(torch.arange(20))
    logits = torch.stack([m(batch) for m in ens.members])
    assert torch.allclose(ens.predict(batch), torch.sigmoid(logits.mean(0)), atol=1e-6)
    # averaging logits is not averaging probabilities: the members really disagree here
    assert not torch.allclose(ens.predict(batch), torch.sigmoid(logits).mean(0), atol=1e-4)


def test_loss_is_the_sum_and_each_member_gets_only_its_own_gradient(prepared):
    torch.manual_seed(0)
    ens = build_model(ensemble_config(2, interaction="deepfm"), prepared)
    batch = prepared.splits["train"].batch(torch.arange(64))
    losses = [m.training_loss(batch) for m in ens.members]
    total = ens.training_loss(batch)
    assert torch.allclose(total, losses[0] + losses[1])
    ens.zero_grad()
    total.backward()
    together = {n: p.grad.clone() for n, p in ens.named_parameters() if p.grad is not None}
    for k, member in enumerate(ens.members):
        ens.zero_grad()
        member.training_loss(batch).backward()
        for name, p in member.named_parameters():
            if p.grad is not None:
                assert torch.allclose(together[f"members.{k}.{name}"], p.grad, atol=1e-6), name


def test_variants_override_the_model_section_in_turn(prepared):
    cfg = ensemble_config(4, variants=[{}, {"embedding_dim": 4, "interaction": "deepfm"}])
    ens = build_model(cfg, prepared)
    dims = [m.fused.table.embedding_dim for m in ens.members]
    assert dims == [8, 4, 8, 4]
    kinds = [type(m.interaction).__name__ for m in ens.members]
    assert kinds[0] == kinds[2] and kinds[1] == kinds[3] and kinds[0] != kinds[1]


@pytest.mark.parametrize("params, match", [
    ({"members": 0}, "at least 1"),
    ({"variants": [{"ranker": "ctr"}]}, "other than 'ranker'"),
    ({"variants": ["fm"]}, "mapping"),
    ({"head": "bpr"}, "standalone"),
])
def test_bad_ensemble_params_fail_with_the_fix(prepared, params, match):
    cfg = model_config("fm")
    cfg["model"]["ranker"] = {"name": "ensemble", "params": params}
    with pytest.raises(ConfigError, match=match):
        build_model(cfg, prepared)


def test_ensemble_trains_and_beats_chance_then_round_trips(prepared, tmp_path):
    cfg = ensemble_config(3, epochs=6, patience=0, lr=0.05)
    torch.manual_seed(0)
    ens = build_model(cfg, prepared)
    Trainer(ens, prepared.splits["train"], TrainSettings.from_config(cfg["train"]),
            evaluate=lambda m: evaluate(m, prepared, "valid", cfg), progress=False).fit()
    auc = evaluate(ens, prepared, "test", cfg)["auc"]
    assert auc > 0.75
    folder = save_model(ens, prepared, cfg, tmp_path / "model")
    loaded = load_model(folder)
    assert isinstance(loaded.model, Ensemble)
    batch = prepared.splits["test"].batch(torch.arange(50))
    assert torch.equal(loaded.model.predict(batch), ens.predict(batch))
    users = torch.tensor([2, 3, 4])
    scores = loaded.model.score_items(users)
    assert torch.allclose(scores, ens.score_items(users))
    # score_items agrees with predict on the assembled (user, item) rows
    items = torch.arange(scores.shape[1])
    rows = ens.pair_batch(users.repeat_interleave(len(items)), items.repeat(len(users)))
    assert torch.allclose(scores, ens.predict(rows).view(len(users), -1), atol=1e-6)
