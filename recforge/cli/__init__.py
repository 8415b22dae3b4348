"""The ``recforge`` command line.

Every module in this package that defines a module-level ``COMMANDS`` list of click commands
is added to the root group, so command groups live one per module and never edit this file.
Plugins add commands through the ``register_commands`` hook.

Errors: a :class:`~recforge.core.errors.RecforgeError` prints ``error: <message>`` on one line
and exits with its exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from typing import Any

import click

import recforge
from recforge.cli._output import echo
from recforge.core.errors import RecforgeError


class RecforgeGroup(click.Group):
    """Root group that loads command modules and plugin commands on first use."""

    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = sys.modules[__name__]
        for mod in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if mod.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{mod.name}")
            for command in getattr(module, "COMMANDS", []):
                self.add_command(command)
        from recforge.core.registry import get_registry

        get_registry().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Apply the one-line error contract here too, so click's CliRunner sees it."""
        try:
            return super().invoke(ctx)
        except RecforgeError as err:
            if (ctx.obj or {}).get("debug"):
                raise
            echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)


@click.group(cls=RecforgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(recforge.__version__, prog_name="recforge")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """recforge: recommender systems from plug-in components."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _usage_line(err: click.ClickException) -> str:
    """Click's usage/parameter errors as the one-line ``error: problem; fix`` contract."""
    message = " ".join(err.format_message().split())
    ctx = getattr(err, "ctx", None)
    command = ctx.command_path if ctx is not None else "recforge"
    if isinstance(err, click.UsageError):
        return f"error: {message}; see `{command} --help`"
    return f"error: {message}"


def _os_error_line(err: OSError) -> str:
    """An operating-system failure (disk full, permission denied) without a traceback."""
    reason = err.strerror or type(err).__name__
    where = f": {err.filename}" if getattr(err, "filename", None) else ""
    return f"error: {reason}{where}; check the path, its permissions and the free disk space"


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point with the one-line error contract.

    Every failure ends as exactly one ``error: ...`` line on stderr and a non-zero exit:
    RecforgeError (exit 1), usage errors (exit 2), Ctrl-C (exit 130), operating-system
    errors and, as a last resort, unexpected exceptions (exit 1, with a hint to rerun with
    ``--debug``, which shows the traceback instead).
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        return cli.main(args=args, prog_name="recforge", standalone_mode=False)
    except click.exceptions.Abort:  # click turns Ctrl-C into Abort
        echo("error: aborted (Ctrl-C or a declined prompt); run the command again to redo it", err=True)
        sys.exit(130)
    except click.ClickException as err:
        echo(_usage_line(err), err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        echo("error: interrupted (Ctrl-C); run the command again to redo it", err=True)
        sys.exit(130)
    except RecforgeError as err:
        if debug:
            raise
        echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except OSError as err:
        if debug:
            raise
        echo(_os_error_line(err), err=True)
        sys.exit(1)
    except Exception as err:
        if debug:
            raise
        text = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        echo(f"error: unexpected {text}; rerun with --debug for the traceback and report it", err=True)
        sys.exit(1)
