"""A click group whose commands are imported only when they run.

``recforge --help`` must not import torch or transformers: the command modules for training
and prediction import them at the top. A :class:`LazyGroup` knows each command's name, where
it lives (``module:attribute``) and its one-line help, so listing commands imports nothing and
running one imports only its own module. A test checks that every listed help line still
matches the command's docstring.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from recforge.core.errors import did_you_mean

#: name -> ("package.module:attribute", one-line help)
LazySpec = Mapping[str, tuple[str, str]]


def resolve(target: str) -> click.Command:
    """Import ``module:attribute`` and return the click command there."""
    module_name, _, attr = target.partition(":")
    command = getattr(importlib.import_module(module_name), attr)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


class LazyGroup(click.Group):
    """A group with eagerly added commands plus ``lazy`` ones resolved on first use."""

    def __init__(self, *args: Any, lazy: LazySpec | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(resolve(self.lazy[cmd_name][0]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """Click's, with lazy names among the "did you mean" suggestions."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as err:
            name = str(args[0]) if args else ""
            if not name or name.startswith("-") or name in self.list_commands(ctx):
                raise
            hint = did_you_mean(name, self.list_commands(ctx))
            raise click.UsageError(f"No such command '{name}'{hint}", ctx=err.ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but lazy commands show their declared help without being imported."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
            else:
                rows.append((name, self.lazy[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
