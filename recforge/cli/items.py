"""``recforge items add MODEL FILE``: add or update catalogue items offline (no server)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from recforge.cli._output import emit_json


@click.group("items")
def items() -> None:
    """The live catalogue of a saved model (what `recforge serve` POST /items changes)."""


@items.command("add")
@click.argument("model", metavar="MODEL")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def add(model: str, file: Path, as_json: bool) -> None:
    """Encode FILE's items (CSV/TSV/JSONL/Parquet: the item id and item fields) with MODEL's own
    encoders and persist them beside the saved model; a server started later serves them."""
    from recforge.core.data.readers import read_table
    from recforge.serving.hotswap import load_serving

    served = load_serving(model)
    frame = read_table(file)
    records = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
               for row in frame.astype(object).to_dict("records")]
    served.add_items(records)
    cat = served.catalogue
    if as_json:
        emit_json({"model": served.version, "added": len(records), "catalogue_size": len(cat),
                   "catalogue_version": cat.version, "delta": str(cat.latest_delta())})
    else:
        click.echo(f"added {len(records)} items to {served.version}: {len(cat)} live items, "
                   f"catalogue version {cat.version} ({cat.latest_delta()})")


COMMANDS = [items]
