"""Experiment config: YAML in and out, dotted ``--set`` overrides, validation of known keys.

A config is a plain nested mapping with these sections (see ``examples/configs``)::

    name: ml100k-ctr-deepfm          # run name
    experiment: ml100k-ctr           # experiment the run belongs to
    data:   {recipe, params, fields, split, negatives, ...}   # recforge.core.data
    model:  {embedding_dim, encoders, interaction, ranker}   # recforge.core.model
    train:  {optimizer, lr, batch_size, epochs, patience, monitor, seed, ...}
    eval:   {metrics, k, ...}

Unknown top-level or section keys fail with a did-you-mean suggestion; values inside
``params`` mappings are validated by the component that owns them.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from recforge.core.errors import ConfigError, unknown_name

#: known keys per section; ``None`` means free-form (validated by its owner).
SECTIONS: dict[str, set[str] | None] = {
    "name": None,
    "experiment": None,
    "description": None,
    "data": {
        "recipe", "params", "fields", "split", "negatives", "label", "features", "drop",
    },
    "model": {
        "embedding_dim", "encoders", "interaction", "interactions", "ranker", "towers",
        "fields", "dropout", "embedding_regularizer", "net_regularizer", "embedding_init_std",
    },
    "train": {
        "optimizer", "lr", "batch_size", "epochs", "patience", "monitor", "monitor_mode",
        "seed", "deterministic", "threads", "weight_decay", "embedding_weight_decay", "embedding_lr",
        "scheduler", "grad_clip", "eval_batch_size", "checkpoint", "lr_groups", "amp",
        "compile", "max_steps", "calibrate", "logloss_warn_margin",
    },
    "eval": {"metrics", "k", "protocol", "splits", "num_negatives", "group_by"},
}


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 insists on ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with scientific-notation floats."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


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


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read, override and validate an experiment config."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", fix="check the path") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {path}: {type(err).__name__}", fix="pass a readable UTF-8 YAML file") from None
    config = parse_yaml(text, str(path))
    config = apply_overrides(config, overrides or [])
    validate_config(config)
    return config


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


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``config`` with dotted ``key=value`` overrides applied."""
    config = copy.deepcopy(config)
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


def validate_config(config: dict[str, Any]) -> None:
    """Check top-level sections and their keys; typos fail with a suggestion."""
    for key, value in config.items():
        if key not in SECTIONS:
            raise unknown_name("config section", key, SECTIONS, fix="see examples/configs for the layout")
        allowed = SECTIONS[key]
        if allowed is None:
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"config section '{key}' must be a mapping", fix=f"write `{key}:` followed by indented keys")
        for sub in value:
            if sub not in allowed:
                raise unknown_name(f"key in config section '{key}'", sub, allowed, fix="fix the key name")
    if "data" not in config:
        raise ConfigError("config has no 'data' section", fix="add data: {recipe: ..., ...}")
    _validate_metrics((config.get("eval") or {}).get("metrics"))


def _validate_metrics(names: Any) -> None:
    """Unknown metric names fail here, before any data is read or a run is recorded."""
    if not names:
        return
    from recforge.core.metrics import parse_metric

    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    if not isinstance(names, list):
        raise ConfigError(f"eval.metrics must be a list of metric names, not {names!r}",
                          fix="write e.g. eval: {metrics: [auc, logloss]}")
    for name in names:
        parse_metric(str(name))


def dump_config(config: dict[str, Any]) -> str:
    """YAML text of a config (stable key order)."""
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
