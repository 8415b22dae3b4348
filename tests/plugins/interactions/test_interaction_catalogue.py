"""Every built-in interaction: registered, documented, trainable, shape-correct at the edges."""

from __future__ import annotations

import pytest
import torch

from recforge.core.components import build_params
from recforge.core.registry import get_registry
from recforge.plugins.interactions import BUILTIN_INTERACTIONS, LAYERS
from recforge.plugins.interactions.presets import PRESETS

NAMES = sorted(cls.name for cls in BUILTIN_INTERACTIONS)
# small settings so every layer builds in milliseconds
SMALL: dict[str, dict] = {
    "afn": {"logarithmic_neurons": 8, "hidden_units": [16]},
    "finalmlp": {
        "mlp1_hidden_units": [16, 8],
        "mlp2_hidden_units": [16, 8],
        "fs_hidden_units": [8],
    },
    "fibinet": {"hidden_units": [16]},
    "fibinet-model": {"hidden_units": [16]},
    "dcn": {"hidden_units": [16]},
    "dcnv2": {"hidden_units": [16]},
    "xdeepfm": {"hidden_units": [16], "cin_units": [4, 4]},
    "autoint+": {"hidden_units": [16], "attention_layers": 2},
    "deepfm": {"hidden_units": [16]},
    "wdl": {"hidden_units": [16]},
}


def build(name: str, num_fields: int, dim: int) -> torch.nn.Module:
    cls = get_registry().get(name, "interaction").cls
    return cls(num_fields, dim, build_params(cls, SMALL.get(name, {})))


def test_every_builtin_is_registered_under_its_name() -> None:
    registered = {
        c.name
        for c in get_registry().list("interaction")
        if c.plugin == "recforge.plugins.interactions"
    }
    assert registered == set(NAMES)
    expected = {
        "lr",
        "fm",
        "fwfm",
        "afm",
        "nfm",
        "ipnn",
        "opnn",
        "crossnet",
        "crossnet-v2",
        "cin",
        "autoint",
        "fibinet",
        "afn",
        "finalmlp",
        "masknet",
        "mlp",
        "attention-fusion",
        "gating",
        "wdl",
        "deepfm",
        "dcn",
        "dcnv2",
        "xdeepfm",
        "autoint+",
        "fibinet-model",
    }
    assert expected <= set(NAMES)
    assert len(LAYERS) + len(PRESETS) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_documented_with_args_and_example(name: str) -> None:
    info = get_registry().get(name, "interaction")
    assert info.summary, f"{name} lacks a summary line"
    assert "Args:" in info.doc and "Example:" in info.doc
    for spec in info.params:
        assert spec.help, f"{name}.{spec.name} lacks help text"


@pytest.mark.parametrize("name", NAMES)
def test_gradient_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    layer = build(name, num_fields=4, dim=6)
    x = torch.randn(32, 4, 6, requires_grad=True)
    out = layer(x)
    assert out.shape == (32, layer.output_dim)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient reaches {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_one_field_and_batch_of_one(name: str) -> None:
    torch.manual_seed(0)
    one_field = build(name, num_fields=1, dim=4)
    out = one_field(torch.randn(3, 1, 4))
    assert out.shape == (3, one_field.output_dim) and torch.isfinite(out).all()
    layer = build(name, num_fields=3, dim=4)
    out = layer(torch.randn(1, 3, 4))
    assert out.shape == (1, layer.output_dim) and torch.isfinite(out).all()
    layer.eval()
    assert layer(torch.randn(1, 3, 4)).shape == (1, layer.output_dim)


@pytest.mark.parametrize("name", NAMES)
def test_output_is_per_example(name: str) -> None:
    """Row i of the output depends on row i of the input only (eval mode: no batch statistics)."""
    torch.manual_seed(0)
    layer = build(name, num_fields=3, dim=4).eval()
    x = torch.randn(5, 3, 4)
    full = layer(x)
    alone = torch.cat([layer(x[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(full, alone, rtol=1e-4, atol=1e-5)


def test_bad_sizes_name_the_layer_and_param() -> None:
    from recforge.core.errors import ConfigError

    with pytest.raises(ConfigError, match="'mlp' param 'hidden_units'"):
        build_params_and_make("mlp", {"hidden_units": [64, 0]})
    with pytest.raises(ConfigError, match="'mlp' param 'dropout'"):
        build_params_and_make("mlp", {"dropout": 1.5})
    with pytest.raises(ConfigError, match="num_fields=0"):
        build_params_and_make("fm", {}, num_fields=0)
    with pytest.raises(ConfigError, match="unknown activation 'rleu'.*did you mean 'relu'"):
        build_params_and_make("mlp", {"activation": "rleu"})
    with pytest.raises(ConfigError, match="not divisible by num_heads"):
        build_params_and_make("finalmlp", {"mlp1_hidden_units": [7], "num_heads": 2})


def build_params_and_make(
    name: str, raw: dict, num_fields: int = 3, dim: int = 4
) -> torch.nn.Module:
    cls = get_registry().get(name, "interaction").cls
    return cls(num_fields, dim, build_params(cls, raw))
