"""``recforge models register|list|promote``: the model registry."""

from __future__ import annotations

import click

from recforge.cli._output import echo, emit_json, emit_table
from recforge.core.errors import ConfigError
from recforge.core.store import MODEL_STAGES, Store
from recforge.core.store.views import iso, model_to_dict


def _parse_tags(items: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"tag '{item}' is not KEY=VALUE", fix="write tags as --tag key=value")
        tags[key.strip()] = value.strip()
    return tags


@click.group("models")
def models() -> None:
    """Register finished runs as named model versions and move them between stages."""


@models.command("register")
@click.argument("run_id", type=int)
@click.argument("name")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag the version (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def register(run_id: int, name: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Register RUN_ID's model as the next version of NAME."""
    parsed = _parse_tags(tags)
    with Store.open() as store:
        mv = store.register_model(name, run_id, tags=parsed)
    if as_json:
        emit_json(model_to_dict(mv))
    else:
        echo(f"registered {mv.name} version {mv.version} from run {run_id}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json: bool) -> None:
    """List registered model versions."""
    with Store.open() as store:
        found = store.list_models()
    if as_json:
        emit_json([model_to_dict(m) for m in found])
        return
    emit_table(
        "models", ["name", "version", "stage", "run", "tags", "created"],
        [(m.name, m.version, m.stage, m.run_id if m.run_id is not None else "(deleted)",
          ", ".join(f"{k}={v}" for k, v in m.tags.items()), (iso(m.created_at) or "")[:19]) for m in found],
    )


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.argument("stage", type=click.Choice(MODEL_STAGES))
def promote(name: str, version: int, stage: str) -> None:
    """Move NAME VERSION to STAGE (a new production version archives the previous one)."""
    with Store.open() as store:
        mv = store.promote(name, version, stage)
    echo(f"{mv.name} version {mv.version} is now {mv.stage}")


COMMANDS = [models]
