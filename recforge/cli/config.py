"""``recforge config``: the JSON Schema of experiment configs and a check without training.

``config schema`` prints the JSON Schema of :class:`~recforge.core.config_schema.ExperimentConfig`
with every installed component's params under ``$defs`` (``<kind>:<name>``), so a YAML language
server completes and checks config files. ``config check FILE`` validates a config -- its keys,
ranges and the named components with their params -- without reading data or training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from recforge.cli._output import emit_json


def experiment_schema() -> dict[str, Any]:
    """The experiment-config JSON Schema plus one definition per installed component's params."""
    from recforge.core.config_schema import ExperimentConfig
    from recforge.core.registry import get_registry
    from recforge.core.validation import params_model

    schema = ExperimentConfig.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for info in get_registry().list():
        part = params_model(info.cls.Params).model_json_schema()
        part["description"] = f"params of the {info.kind} '{info.name}'"
        defs[f"{info.kind}:{info.name}"] = part
    return schema


def _interaction_names(spec: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every ``(name, params)`` inside an interaction spec (names, parallel, stack)."""
    if isinstance(spec, str):
        return [(spec, {})]
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return [(spec["name"], dict(spec.get("params") or {}))]
    if isinstance(spec, dict):
        return [n for key in ("parallel", "stack") for item in spec.get(key) or [] for n in _interaction_names(item)]
    return []


def check_config(path: Path, overrides: list[str]) -> dict[str, Any]:
    """Validate a config file, the components it names, its metrics and monitor (against the
    ranker's task) and ``eval.group_by`` (against declared fields); returns a short summary.
    What needs the data itself (e.g. a split named in ``eval.splits``) is checked at train start."""
    from recforge.core.components import build_params
    from recforge.core.config import load_config
    from recforge.core.errors import unknown_name
    from recforge.core.evaluation import resolve_monitor
    from recforge.core.model import ranker_or_model
    from recforge.core.registry import get_registry

    config = load_config(path, overrides)
    registry = get_registry()
    model = config.model
    ranker = ranker_or_model(registry, model.ranker.name)
    build_params(ranker, model.ranker.params)
    for spec in model.encoders.values():
        build_params(registry.get(spec.name, "encoder").cls, spec.params)
    for name, params in _interaction_names(model.interaction_spec()):
        build_params(registry.get(name, "interaction").cls, params)
    if config.data.recipe:
        registry.get(config.data.recipe, "dataset")
    resolve_monitor(config, ranker.task, has_valid=True)  # metric names and the monitor
    declared = [f.get("name") for f in config.data.fields if isinstance(f, dict)] if isinstance(config.data.fields, list) else []
    if config.eval.group_by is not None and declared and config.eval.group_by not in declared:
        raise unknown_name("column in eval.group_by", config.eval.group_by, declared,
                           fix="name a field declared in data.fields (e.g. an impression id)")
    return {"config": str(path), "ok": True, "ranker": model.ranker.name, "task": ranker.task}


@click.group("config")
def config_group() -> None:
    """Experiment configs: JSON Schema and validation without training."""


@config_group.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of experiment configs (with every installed component's params)."""
    click.echo(json.dumps(experiment_schema(), indent=2))


@config_group.command("check")
@click.argument("config_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (dotted).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_cmd(config_path: Path, overrides: tuple[str, ...], as_json: bool) -> None:
    """Validate FILE (keys, ranges, components and their params) without reading data or training."""
    summary = check_config(config_path, list(overrides))
    if as_json:
        emit_json(summary)
        return
    click.echo(f"ok: {config_path} ({summary['ranker']} ranker, {summary['task']} task)")


COMMANDS = [config_group]
