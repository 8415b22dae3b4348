"""Experiment config: YAML parsing, dotted overrides, key validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from recforge.core.config import apply_overrides, load_config, parse_override, parse_yaml, validate_config
from recforge.core.errors import ConfigError, UnknownNameError


def test_override_parses_values_as_yaml() -> None:
    assert parse_override("train.epochs=3") == (["train", "epochs"], 3)
    assert parse_override("train.lr=1e-3") == (["train", "lr"], 0.001)
    assert parse_override("model.interaction=deepfm") == (["model", "interaction"], "deepfm")
    assert parse_override("eval.k=[5, 10]") == (["eval", "k"], [5, 10])


def test_overrides_create_nested_keys_and_leave_input_untouched() -> None:
    base = {"train": {"epochs": 10}}
    out = apply_overrides(base, ["train.epochs=2", "model.ranker.name=ctr"])
    assert out == {"train": {"epochs": 2}, "model": {"ranker": {"name": "ctr"}}}
    assert base == {"train": {"epochs": 10}}


def test_override_without_equals_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="has no '='"):
        parse_override("train.epochs")


def test_unknown_section_key_suggests_the_right_one() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'epochs'"):
        validate_config({"data": {}, "train": {"epoch": 3}})


def test_unknown_top_level_section() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'train'"):
        validate_config({"data": {}, "trian": {}})


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  recipe: files\n  params: [unclosed\ntrain: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "bad.yaml:" in message and "YAML syntax error" in message
    assert "\n" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_yaml() -> None:
    with pytest.raises(ConfigError, match="not a YAML mapping"):
        parse_yaml("- a\n- b\n")


def test_scientific_floats_in_yaml_files_are_numbers() -> None:
    assert parse_yaml("train: {lr: 1e-3, wd: 5E-05}")["train"] == {"lr": 0.001, "wd": 5e-05}


BAD_VALUES = [
    ("train.lr=.inf", "train.lr"), ("train.lr=.nan", "train.lr"), ("train.lr=0", "train.lr"),
    ("train.patience=-1", "train.patience"), ("train.epochs=0", "train.epochs"),
    ("train.batch_size=0", "train.batch_size"), ("train.batch_size=1000000000", "train.batch_size"),
    ("model.embedding_dim=2.5", "model.embedding_dim"), ("model.embedding_dim=50000000", "model.embedding_dim"),
    ("train.seed=-1", "train.seed"), ("train.seed=4294967296", "train.seed"), ("eval.k=0", "eval.k"),
    ("train.grad_clip=-1", "train.grad_clip"), ("model.dropout=1.0", "model.dropout"),
    ("model.embedding_regularizer=-1", "model.embedding_regularizer"),
    ("model.net_regularizer=.inf", "model.net_regularizer"), ("train.deterministic=maybe", "train.deterministic"),
    ("train.amp=sometimes", "train.amp"), ("train.epochs=true", "train.epochs"),
    ("eval.num_negatives=5", "eval.num_negatives"), ("train.scheduler={name: cosine, gamma: 0.5}", "train.scheduler"),
]


@pytest.mark.parametrize(("override", "key"), BAD_VALUES)
def test_out_of_range_values_fail_in_one_line_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(apply_overrides({"data": {"recipe": "files"}}, [override]))
    message = str(err.value)
    assert key in message and "\n" not in message and "; " in message
    assert "validation error" not in message and "pydantic" not in message


def test_load_config_returns_the_typed_config_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: {recipe: files}\ntrain: {lr: 1e-2}\n")
    config = load_config(path, ["train.epochs=3"])
    assert (config.train.lr, config.train.epochs, config.model.embedding_dim) == (0.01, 3, 16)
    assert config.to_dict() == {"data": {"recipe": "files"}, "train": {"lr": 0.01, "epochs": 3}}
