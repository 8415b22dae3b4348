"""Shared rendering for CLI commands: JSON output, rich tables, and terminal-safe text.

Everything the CLI prints that a user (or another user of a shared store) wrote, such as run
and model names, tags, descriptions and error messages quoting them, goes through
:func:`safe_text` here, so an ANSI escape or a newline in a model name is shown as ``\\x1b``
or ``\\n`` instead of clearing or recolouring the reader's terminal. ``rich`` is imported
lazily: ``recforge --help`` and the error path stay fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import click

#: C0 and C1 control characters, DEL, and the Unicode bidi overrides/isolates that reorder text
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: what ``json.dumps`` leaves raw inside strings: DEL, C1 controls and the bidi characters
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: Any) -> str:
    """``str(value)`` with control characters shown as escapes (``\\x1b``, ``\\n``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, "" if value is None else str(value))


def echo(text: Any = "", *, err: bool = False) -> None:
    """``click.echo`` of one line whose user-provided parts must not drive the terminal."""
    click.echo(safe_text(text), err=err)


def emit_json(obj: Any) -> None:
    """Print one JSON document on stdout (the last thing a ``--json`` command prints).

    JSON already escapes C0 controls; C1 controls and bidi overrides (which ``ensure_ascii=False``
    would print raw) are escaped as ``\\uXXXX`` so the document stays valid and inert.
    """
    text = json.dumps(obj, indent=2, default=str, ensure_ascii=False)
    click.echo(_UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def emit_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table (falls back to plain text when not a terminal).

    Cells are plain :class:`rich.text.Text` (never console markup), so ``[red]`` in a name is
    printed as written, and pass through :func:`safe_text`.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # at least as wide as its title (no title wrapped mid-phrase); cells wrap at spaces and a
    # word too long for its column ends in an ellipsis instead of being cut mid-word
    # cells and titles are user text (names, paths, errors): Text, never Rich markup
    table = Table(title=Text(safe_text(title)) if title else None, show_lines=False, min_width=len(title) + 4 if title else None)
    for col in columns:
        table.add_column(col, overflow="ellipsis")
    for row in rows:
        table.add_row(*[Text(safe_text(v)) for v in row])
    probe = Console()
    # a terminal's own width; a pipe or file has none, so lines may be as long as they need
    Console(soft_wrap=False, width=probe.width if probe.is_terminal else 200).print(table)
