"""``recforge models register|list|promote``: the model registry."""

from __future__ import annotations

import click

from recforge.cli._output import echo, emit_json, emit_table
from recforge.core.store import MODEL_STAGES, Store
from recforge.core.store.views import iso, model_to_dict
from recforge.services.models import list_model_rows, parse_tags, promote_model, register_model


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
    parsed = parse_tags(tags)
    with Store.open() as store:
        row = register_model(store, name, run_id, tags=parsed)
        if as_json:
            emit_json(model_to_dict(store.get_model(row.name, row.version)))
            return
    echo(f"registered {row.name} version {row.version} from run {run_id}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json: bool) -> None:
    """List registered model versions."""
    with Store.open() as store:
        if as_json:
            emit_json([model_to_dict(m) for m in store.list_models()])
            return
        rows = list_model_rows(store)
    emit_table(
        "models", ["name", "version", "stage", "run", "tags", "created"],
        [(m.name, m.version, m.stage, m.run_id if m.run_id is not None else "(deleted)",
          ", ".join(f"{k}={v}" for k, v in m.tags.items()), (iso(m.created_at) or "")[:19]) for m in rows],
    )


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.argument("stage", type=click.Choice(MODEL_STAGES))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def promote(name: str, version: int, stage: str, as_json: bool) -> None:
    """Move NAME VERSION to STAGE (a new production version archives the previous one)."""
    with Store.open() as store:
        row = promote_model(store, name, version, stage)
        if as_json:
            emit_json(model_to_dict(store.get_model(row.name, row.version)))
            return
    echo(f"{row.name} version {row.version} is now {row.stage}")


COMMANDS = [models]
