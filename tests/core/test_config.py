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
