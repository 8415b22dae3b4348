"""``recforge plugins list|install|uninstall``: manage plugin packages.

``install`` and ``uninstall`` run pip *in the interpreter recforge runs in*
(``sys.executable -m pip``), so a plugin always lands where recforge will find its entry
point, whatever ``pip`` happens to be first on ``PATH``.
"""

from __future__ import annotations

import subprocess
import sys

import click

from recforge.cli._output import emit_json, emit_table
from recforge.cli.plugins_new import new_plugin
from recforge.core.errors import PluginError
from recforge.core.plugin_api import API_VERSION
from recforge.core.registry import get_registry, reset_registry


@click.group("plugins")
def plugins() -> None:
    """List, install and uninstall recforge plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_plugins(as_json: bool) -> None:
    """List plugins with their version, supported plugin API, components and load error.

    A plugin built for another plugin API is listed with its range and skipped.
    """
    records = get_registry().plugin_list()
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    emit_table(
        f"plugins (recforge plugin API {API_VERSION})",
        ["plugin", "version", "api", "origin", "components", "error"],
        [(r.name, r.version, r.api or "-", r.origin, len(r.components), r.error or "") for r in records],
    )


def run_pip(args: list[str]) -> None:
    """Run ``python -m pip ARGS`` here, echoing its output; a failure is one-line PluginError."""
    cmd = [sys.executable, "-m", "pip", *args]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as err:
        raise PluginError(f"cannot run pip: {err.strerror}", fix=f"check that {sys.executable} works") from None
    last_error = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        click.echo(line.rstrip("\n"))
        if line.strip().startswith("ERROR:"):
            last_error = last_error or line.strip()[len("ERROR:"):].strip()
    code = proc.wait()
    reset_registry()  # the next lookup sees the new set of entry points
    if code != 0:
        detail = f": {last_error}" if last_error else ""
        raise PluginError(
            f"pip {args[0]} failed (exit {code}){detail}",
            fix="read pip's output above, fix the package name or path, and retry",
        )


@plugins.command("install")
@click.argument("packages", nargs=-1)
@click.option("-e", "--editable", "editables", multiple=True, metavar="PATH", help="Install a local project in editable mode (repeatable).")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages that are already installed.")
def install(packages: tuple[str, ...], editables: tuple[str, ...], upgrade: bool) -> None:
    """Install plugin PACKAGES (pip requirement specs) into recforge's environment."""
    if not packages and not editables:
        raise PluginError("nothing to install", fix="pass a package name or -e PATH")
    args = ["install", *(["--upgrade"] if upgrade else []), *packages]
    for path in editables:
        args += ["-e", path]
    run_pip(args)
    click.echo("installed; run `recforge plugins list` to see what loaded")


@plugins.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugin PACKAGES from recforge's environment."""
    if any(p.lower() == "recforge" for p in packages):
        raise PluginError("refusing to uninstall recforge itself", fix="use `pip uninstall recforge` directly")
    if not yes:
        click.confirm(f"uninstall {', '.join(packages)}?", abort=True)
    run_pip(["uninstall", "-y", *packages])


plugins.add_command(new_plugin)
COMMANDS = [plugins]
