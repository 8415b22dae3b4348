"""``recforge data list|show|prepare``: browse dataset recipes, inspect and prepare datasets."""

from __future__ import annotations

from typing import Any

import click

from recforge.cli._output import emit_json, emit_table
from recforge.core.config import parse_override
from recforge.core.registry import get_registry


def _params(sets: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in sets:
        keys, value = parse_override(item)
        out[".".join(keys)] = value
    return out


@click.group("data")
def data() -> None:
    """List dataset recipes, show a dataset's schema and counts, prepare a cached copy."""


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_data(as_json: bool) -> None:
    """List the registered dataset recipes."""
    infos = get_registry().list("dataset")
    if as_json:
        emit_json([i.to_dict() for i in infos])
        return
    emit_table("datasets", ["recipe", "plugin", "summary"], [(i.name, i.plugin, i.summary) for i in infos])


def _show(recipe: str, params: dict[str, Any]) -> dict[str, Any]:
    from recforge.core.data.columns import numbers
    from recforge.core.data.prepare import resolve_recipe

    instance, parsed = resolve_recipe({"recipe": recipe, "params": params})
    raw = instance.load(parsed)
    rows = raw.all_rows()
    out: dict[str, Any] = {
        "recipe": recipe,
        "rows": {name: len(frame) for name, frame in raw.frames.items()},
        "total_rows": len(rows),
        "fields": [{"name": f.name, "kind": f.kind, "role": f.role} for f in raw.fields],
        "files": [str(f) for f in raw.files],
    }
    if raw.user_key:
        out["users"] = int(rows[raw.user_key].nunique())
    if raw.item_key:
        out["items"] = int(rows[raw.item_key].nunique())
    if raw.label and raw.label in rows.columns:
        out["positive_rate"] = round(float((numbers(rows[raw.label], raw.label) > 0).mean()), 4)
    return out


@data.command("show")
@click.argument("recipe")
@click.option("--set", "sets", multiple=True, metavar="PARAM=VALUE", help="Recipe parameter.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_data(recipe: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Show RECIPE's schema and its rows, users, items and positive rate."""
    info = _show(recipe, _params(sets))
    if as_json:
        emit_json(info)
        return
    summary = ", ".join(f"{k}: {info[k]}" for k in ("total_rows", "users", "items", "positive_rate") if k in info)
    click.echo(f"{recipe}  {summary}")
    click.echo("splits: " + ", ".join(f"{k}={v}" for k, v in info["rows"].items()))
    emit_table("schema", ["field", "kind", "role"], [(f["name"], f["kind"], f["role"]) for f in info["fields"]])


def _open_store() -> Any:
    try:
        from recforge.core.store import Store
    except ImportError:
        return None
    return Store.open()


@data.command("prepare")
@click.argument("recipe")
@click.option("--set", "sets", multiple=True, metavar="PARAM=VALUE", help="Recipe parameter.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def prepare(recipe: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Prepare RECIPE (split, fit, tensorise), cache it and record it in the store."""
    from recforge.core.data import prepare_data

    prepared = prepare_data({"recipe": recipe, "params": _params(sets)}, store=_open_store())
    out = {"name": prepared.name, "fingerprint": prepared.fingerprint, "cache": str(prepared.cache_path), "counts": prepared.counts}
    if as_json:
        emit_json(out)
        return
    click.echo(f"prepared {prepared.name}\nfingerprint {prepared.fingerprint}\ncache {prepared.cache_path}")
    click.echo(", ".join(f"{k}={v}" for k, v in prepared.counts.items()))


COMMANDS = [data]
