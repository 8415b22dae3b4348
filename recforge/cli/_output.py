"""Shared rendering for CLI commands: JSON output and rich tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text


def emit_json(obj: Any) -> None:
    """Print one JSON document on stdout (the last thing a ``--json`` command prints)."""
    click.echo(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def emit_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table (falls back to plain text when not a terminal)."""
    # at least as wide as its title (no title wrapped mid-phrase); cells wrap at spaces and a
    # word too long for its column ends in an ellipsis instead of being cut mid-word
    # cells and titles are user text (names, paths, errors): Text, never Rich markup
    table = Table(title=Text(title) if title else None, show_lines=False, min_width=len(title) + 4 if title else None)
    for col in columns:
        table.add_column(col, overflow="ellipsis")
    for row in rows:
        table.add_row(*[Text("" if v is None else str(v)) for v in row])
    probe = Console()
    # a terminal's own width; a pipe or file has none, so lines may be as long as they need
    Console(soft_wrap=False, width=probe.width if probe.is_terminal else 200).print(table)
