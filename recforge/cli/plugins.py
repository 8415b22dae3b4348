"""``recforge plugins list|install|uninstall``: manage plugin packages.

``install`` and ``uninstall`` run pip *in the interpreter recforge runs in*
(``sys.executable -m pip``), so a plugin always lands where recforge will find its entry
point, whatever ``pip`` happens to be first on ``PATH``.
"""

from __future__ import annotations

import click

from recforge.cli._catalogue import RELOAD_HELP, catalogue
from recforge.cli._output import emit_json, emit_table
from recforge.cli.plugins_new import new_plugin
from recforge.core.errors import PluginError
from recforge.core.plugin_api import API_VERSION
from recforge.services.plugins import pip_argv, run_pip


@click.group("plugins")
def plugins() -> None:
    """List, install and uninstall recforge plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reload", is_flag=True, help=RELOAD_HELP)
def list_plugins(as_json: bool, reload: bool) -> None:
    """List plugins with their version, supported plugin API, components and load error.

    A plugin built for another plugin API is listed with its range and skipped. The list comes
    from the cached catalogue, rebuilt by itself when a plugin or an installed package changed.
    """
    records = catalogue(reload).plugin_list()
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    emit_table(
        f"plugins (recforge plugin API {API_VERSION})",
        ["plugin", "version", "api", "origin", "components", "error"],
        [(r.name, r.version, r.api or "-", r.origin, len(r.components), r.error or "") for r in records],
    )


def _pip(argv: list[str], verbose: bool, as_json: bool, done: str) -> None:
    """Run pip quietly: its output is shown only with ``-v`` or when it fails."""
    echo = (lambda line: click.echo(line, err=as_json)) if verbose else None
    result = run_pip(argv, echo)
    if not result.ok:
        if not verbose:
            for line in result.lines[-40:]:
                click.echo(line, err=True)
        detail = f": {result.error}" if result.error else ""
        raise PluginError(
            f"pip {argv[3]} failed (exit {result.code}){detail}",
            fix="read pip's output above, fix the package name or path, and retry",
        )
    if as_json:
        emit_json({"action": argv[3], "packages": argv[4:], "ok": True})
    else:
        click.echo(done)


@plugins.command("install")
@click.argument("packages", nargs=-1)
@click.option("-e", "--editable", "editables", multiple=True, metavar="PATH", help="Install a local project in editable mode (repeatable).")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages that are already installed.")
@click.option("-v", "--verbose", is_flag=True, help="Show pip's output as it runs (else only on failure).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def install(packages: tuple[str, ...], editables: tuple[str, ...], upgrade: bool, verbose: bool, as_json: bool) -> None:
    """Install plugin PACKAGES (pip requirement specs) into recforge's environment."""
    argv = pip_argv("install", packages, editables, upgrade=upgrade)
    _pip(argv, verbose, as_json, "installed; run `recforge plugins list` to see what loaded")


@plugins.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("-v", "--verbose", is_flag=True, help="Show pip's output as it runs (else only on failure).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def uninstall(packages: tuple[str, ...], yes: bool, verbose: bool, as_json: bool) -> None:
    """Uninstall plugin PACKAGES from recforge's environment."""
    argv = pip_argv("uninstall", packages)
    if not yes:
        click.confirm(f"uninstall {', '.join(packages)}?", abort=True)
    _pip(argv, verbose, as_json, f"uninstalled {', '.join(packages)}")


plugins.add_command(new_plugin)
COMMANDS = [plugins]
