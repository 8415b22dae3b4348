"""build_interaction: names, params, parallel concat/sum, stacks, presets, and clear errors."""

from __future__ import annotations

import pytest
import torch

from recforge.core.composition import Parallel, Stack, build_interaction
from recforge.core.errors import ConfigError, UnknownNameError
from recforge.plugins.interactions.fm import FM
from recforge.plugins.interactions.lr import LR
from recforge.plugins.interactions.mlp import MLP
from recforge.plugins.interactions.presets import PRESETS

F, D = 4, 3


def test_name_and_name_with_params() -> None:
    fm = build_interaction("fm", F, D)
    assert isinstance(fm, FM) and fm.output_dim == 1
    mlp = build_interaction({"name": "mlp", "params": {"hidden_units": [7, 5]}}, F, D)
    assert isinstance(mlp, MLP) and mlp.output_dim == 5
    assert mlp(torch.randn(2, F, D)).shape == (2, 5)


def test_parallel_concat_stacks_outputs_side_by_side() -> None:
    spec = {
        "parallel": ["fm", {"name": "mlp", "params": {"hidden_units": [6]}}, "crossnet"],
        "combine": "concat",
    }
    layer = build_interaction(spec, F, D)
    assert isinstance(layer, Parallel) and layer.output_dim == 1 + 6 + F * D
    x = torch.randn(3, F, D)
    out = layer(x)
    assert out.shape == (3, layer.output_dim)
    torch.testing.assert_close(out[:, :1], layer.branches[0](x))
    torch.testing.assert_close(out[:, 1:7], layer.branches[1](x))


def test_parallel_sum_adds_projected_logits() -> None:
    layer = build_interaction({"parallel": ["lr", "fm", "mlp"], "combine": "sum"}, F, D)
    assert layer.output_dim == 1
    x = torch.randn(5, F, D)
    lr, fm, mlp = layer.branches
    expected = lr(x) + fm(x) + layer.projections[2](mlp(x))
    torch.testing.assert_close(layer(x), expected)
    # one-logit branches pass through; wider ones get a bias-free linear projection
    assert isinstance(layer.projections[0], torch.nn.Identity)
    assert layer.projections[2].weight.shape == (1, 64) and layer.projections[2].bias is None


def test_parallel_defaults_to_concat() -> None:
    assert build_interaction({"parallel": ["fm", "lr"]}, F, D).output_dim == 2


def test_stack_feeds_flat_output_to_the_next_layer() -> None:
    spec = {"stack": ["crossnet-v2", {"name": "mlp", "params": {"hidden_units": [8]}}, "lr"]}
    layer = build_interaction(spec, F, D)
    assert isinstance(layer, Stack) and layer.output_dim == 1
    x = torch.randn(2, F, D)
    cross, mlp, lr = layer.layers
    torch.testing.assert_close(layer(x), lr(mlp(cross(x).unsqueeze(1)).unsqueeze(1)))
    assert isinstance(lr, LR) and lr.linear.in_features == 8


def test_nested_compositions() -> None:
    spec = {
        "parallel": [{"stack": ["autoint", "mlp"]}, {"parallel": ["fm", "lr"], "combine": "sum"}],
        "combine": "sum",
    }
    layer = build_interaction(spec, F, D)
    assert layer(torch.randn(3, F, D)).shape == (3, 1)


def test_field_pair_layer_cannot_follow_in_a_stack() -> None:
    with pytest.raises(ConfigError, match="'fm'.*cannot follow.*mlp, lr, crossnet"):
        build_interaction({"stack": ["mlp", "fm"]}, F, D)


@pytest.mark.parametrize("cls", PRESETS, ids=lambda c: c.name)
def test_every_preset_builds_by_name_and_gives_one_logit(cls: type) -> None:
    torch.manual_seed(0)
    layer = build_interaction(cls.name, F, D)
    assert layer.output_dim == 1
    out = layer(torch.randn(2, F, D))
    assert out.shape == (2, 1) and torch.isfinite(out).all()


def test_preset_is_its_composition() -> None:
    deepfm = build_interaction({"name": "deepfm", "params": {"hidden_units": [5]}}, F, D)
    kinds = [type(b).name for b in deepfm.net.branches]
    assert kinds == ["lr", "fm", "mlp"] and deepfm.net.combine == "sum"
    xdeepfm = build_interaction({"name": "xdeepfm", "params": {"cin_units": [2, 2]}}, F, D)
    assert [type(b).name for b in xdeepfm.net.branches] == ["lr", "cin", "mlp"]
    stacked = build_interaction({"name": "dcnv2", "params": {"structure": "stacked"}}, F, D)
    assert isinstance(stacked.net.branches[0], Stack)
    mix = build_interaction({"name": "dcnv2", "params": {"low_rank": 4}}, F, D)
    assert mix.net.branches[0].low_rank == 4


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(
        UnknownNameError, match="unknown interaction 'deepfn'.*did you mean 'deepfm'"
    ):
        build_interaction("deepfn", F, D)
    with pytest.raises(UnknownNameError, match="unknown interaction 'crosnet'"):
        build_interaction({"parallel": ["lr", "crosnet"]}, F, D)


def test_bad_params_and_malformed_specs() -> None:
    with pytest.raises(UnknownNameError, match="hidden_unit'.*did you mean 'hidden_units'"):
        build_interaction({"name": "mlp", "params": {"hidden_unit": [3]}}, F, D)
    with pytest.raises(ConfigError, match="combine 'max'"):
        build_interaction({"parallel": ["lr", "fm"], "combine": "max"}, F, D)
    with pytest.raises(ConfigError, match="'parallel' must be a non-empty list"):
        build_interaction({"parallel": []}, F, D)
    with pytest.raises(ConfigError, match="unknown key"):
        build_interaction({"name": "fm", "param": {}}, F, D)
    with pytest.raises(ConfigError, match="none of the keys"):
        build_interaction({"layers": ["fm"]}, F, D)
    with pytest.raises(ConfigError, match="neither a name nor a mapping"):
        build_interaction(3, F, D)
    with pytest.raises(ConfigError, match="params must be a mapping"):
        build_interaction({"name": "mlp", "params": [1]}, F, D)


def test_flat_input_acceptance_propagates_through_compositions() -> None:
    wdl_then = build_interaction(
        {"stack": ["mlp", {"name": "wdl", "params": {"hidden_units": [4]}}]}, F, D
    )
    assert wdl_then.output_dim == 1
    assert build_interaction({"parallel": ["lr", "mlp"]}, F, D).accepts_flat
    assert not build_interaction({"parallel": ["lr", "fm"]}, F, D).accepts_flat
    with pytest.raises(ConfigError, match="'deepfm'.*cannot follow"):
        build_interaction({"stack": ["mlp", "deepfm"]}, F, D)
