"""Rendering of ``recforge train --seeds N``: mean +- std per metric, then the runs."""

from __future__ import annotations

import click

from recforge.cli._output import emit_json, emit_table
from recforge.tune.seeds import SeedReport


def render_seeds(report: SeedReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    runs = ", ".join(str(r.run_id) for r in report.runs)
    rows = [(key, f"{report.mean[key]:.4f}", f"{report.std[key]:.4f}",
             " ".join(f"{(r.valid if key.startswith('valid.') else r.test)[key.split('.', 1)[1]]:.4f}" for r in report.runs))
            for key in report.mean]
    emit_table(f"{len(report.runs)} seeds {report.seeds} (runs {runs}; group {report.group})",
               ["metric", "mean", "std", "per seed"], rows)
    click.echo("std is the sample standard deviation over seeds")
