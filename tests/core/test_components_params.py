"""Component parameter schema: catalogue view, validation with did-you-mean, type coercion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from recforge.core.components import Interaction, build_params, param, param_specs, params_to_dict
from recforge.core.errors import ConfigError, UnknownNameError


class Layer(Interaction):
    """Test layer.

    Args:
        hidden: sizes.

    Example:
        interaction: {name: test-layer}
    """

    name = "test-layer"

    @dataclass
    class Params:
        hidden: list[int] = param([64, 32], "hidden sizes")
        dropout: float = param(0.1, "dropout rate")
        layers: int = param(2, "number of layers")
        batch_norm: bool = param(False, "use batch norm")
        activation: Literal["relu", "gelu"] = param("relu", "activation")
        scale: float | None = param(None, "optional scale")
        label: str = param("x", "a label")


def test_param_specs_catalogue_view() -> None:
    specs = {s.name: s for s in param_specs(Layer.Params)}
    assert [s.name for s in param_specs(Layer.Params)] == ["hidden", "dropout", "layers", "batch_norm", "activation", "scale", "label"]
    assert (specs["hidden"].type, specs["hidden"].default, specs["hidden"].help) == ("list[int]", [64, 32], "hidden sizes")
    assert (specs["dropout"].type, specs["layers"].type, specs["batch_norm"].type) == ("float", "int", "bool")
    assert specs["activation"].type == "choice" and specs["activation"].choices == ("relu", "gelu")
    assert specs["scale"].type == "float | None" and specs["scale"].default is None
    assert specs["hidden"].to_dict()["choices"] is None


def test_defaults_and_mutable_defaults_are_copied() -> None:
    a, b = build_params(Layer, None), build_params(Layer, {})
    a.hidden.append(1)
    assert b.hidden == [64, 32] and params_to_dict(b)["dropout"] == 0.1


def test_coercion_from_strings_and_numbers() -> None:
    p = build_params(Layer, {"hidden": "128, 64", "dropout": "0.5", "layers": 3.0, "batch_norm": "yes",
                             "activation": "gelu", "scale": "2", "label": 7})
    assert (p.hidden, p.dropout, p.layers, p.batch_norm, p.activation, p.scale, p.label) == (
        [128, 64], 0.5, 3, True, "gelu", 2.0, "7")
    assert build_params(Layer, {"dropout": 1}).dropout == 1.0 and isinstance(build_params(Layer, {"dropout": 1}).dropout, float)
    assert build_params(Layer, {"scale": None}).scale is None


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError) as err:
        build_params(Layer, {"dropuot": 0.2})
    assert str(err.value) == (
        "unknown parameter of interaction 'test-layer' 'dropuot' (did you mean 'dropout'?); "
        "see `recforge components show test-layer`"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"layers": 2.5}, "param 'layers': 2.5 is not an int"),
        ({"layers": True}, "param 'layers': True is not a number"),
        ({"dropout": "abc"}, "param 'dropout': 'abc' is not a float"),
        ({"batch_norm": "maybe"}, "param 'batch_norm': 'maybe' is not a bool"),
        ({"activation": "tanh"}, "param 'activation': 'tanh' is not one of relu, gelu"),
        ({"hidden": ["a"]}, "param 'hidden[0]': 'a' is not an int"),
        ({"hidden": 5}, "param 'hidden': 5 is not a list"),
        ({"scale": "big"}, "param 'scale': 'big' is not a float"),
    ],
)
def test_bad_values_name_the_param(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_params(Layer, raw)
    assert str(err.value).startswith(f"interaction 'test-layer' {message}")
