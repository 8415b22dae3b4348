"""``recforge export MODEL --format onnx|torchscript -o DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from recforge.cli._output import emit_json


@click.command("export")
@click.argument("model", metavar="MODEL")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), required=True, help="File format.")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option("--tolerance", default=1e-5, show_default=True, help="Largest allowed score difference on the test split.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def export(model: str, fmt: str, out: Path, tolerance: float, as_json: bool) -> None:
    """Export MODEL's scoring path (CTR and embedding models) and verify it on the test split."""
    from recforge.export import export_model
    from recforge.services.model_refs import open_model

    ref, loaded = open_model(model)
    result = export_model(loaded, fmt, out, tolerance=tolerance)
    if as_json:
        emit_json({"model": ref.label, **result.to_dict()})
    else:
        click.echo(f"exported {ref.label} to {result.path} ({fmt}); inputs {', '.join(result.inputs)}; "
                   f"{result.rows_checked} test rows within {result.max_abs_diff:.1e} of the saved model")


COMMANDS = [export]
