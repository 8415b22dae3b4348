"""Experiment config: YAML in and out, dotted ``--set`` overrides, one typed validation.

A config file is a nested mapping with these sections (see ``examples/configs``)::

    name: ml100k-ctr-deepfm          # run name
    experiment: ml100k-ctr           # experiment the run belongs to
    data:   {recipe, params, fields, split, negatives, ...}   # recforge.core.data
    model:  {embedding_dim, encoders, interaction, ranker}   # recforge.core.model
    train:  {optimizer, lr, batch_size, epochs, patience, monitor, seed, ...}
    eval:   {metrics, k, ...}

:func:`load_config` reads the YAML, applies ``--set`` overrides to the mapping and validates it
once into the typed :class:`~recforge.core.config_schema.ExperimentConfig` that every service
takes. Unknown keys fail with a did-you-mean suggestion, bad values with the key's range;
values inside ``params`` mappings are validated by the component that owns them.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from recforge.core.config_schema import ExperimentConfig
from recforge.core.errors import ConfigError

class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 insists on ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with scientific-notation floats, bounded (see :mod:`recforge.core.yaml_io`)."""
    from recforge.core.yaml_io import load_yaml as bounded_load

    return bounded_load(text)


def parse_yaml(text: str, source: str = "<config>") -> dict[str, Any]:
    """Parse YAML text into a mapping; syntax errors name the file and line."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"YAML syntax error at {where}: {problem}", fix="fix the YAML at that line") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} is not a YAML mapping", fix="write the config as `key: value` lines")
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read, override and validate an experiment config into its typed form."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", fix="check the path") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {path}: {type(err).__name__}", fix="pass a readable UTF-8 YAML file") from None
    config = parse_yaml(text, str(path))
    return validate_config(apply_overrides(config, overrides or []))


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"train.epochs=3"`` -> (["train", "epochs"], 3); the value is parsed as YAML."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' has no '='", fix="write --set section.key=value")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override '{item}' has an empty key", fix="write --set section.key=value")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(config: dict[str, Any] | ExperimentConfig, overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``config`` (as a mapping) with dotted ``key=value`` overrides applied."""
    config = config.to_dict() if isinstance(config, ExperimentConfig) else copy.deepcopy(config)
    for item in overrides:
        parts, value = parse_override(item)
        node = config
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override '{item}': '{part}' is not a mapping", fix="override the whole value instead"
                )
            node = child
        node[parts[-1]] = value
    return config


def validate_config(config: dict[str, Any] | ExperimentConfig) -> ExperimentConfig:
    """The typed config of a mapping; the first problem is a one-line ConfigError."""
    return ExperimentConfig.parse(config)


def dump_config(config: dict[str, Any] | ExperimentConfig) -> str:
    """YAML text of a config (stable key order; the keys the user set)."""
    data = config.to_dict() if isinstance(config, ExperimentConfig) else config
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
