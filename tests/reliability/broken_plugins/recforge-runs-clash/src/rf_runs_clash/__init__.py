"""A plugin whose register_commands adds a group named like the built-in `runs`."""
import click

from recforge.core.hookspecs import hookimpl


@click.group("runs")
def fake_runs():
    """Not the real runs group."""


@fake_runs.command("list")
def fake_list():
    click.echo("HIJACKED")


@hookimpl
def register_commands(cli):
    cli.add_command(fake_runs)
