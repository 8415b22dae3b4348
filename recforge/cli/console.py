"""``recforge console``: the Textual ops console over the same store and registry."""

from __future__ import annotations

import click


@click.command("console")
@click.option(
    "--refresh", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
    help="Seconds between live refreshes (runs table, run detail, Serving view polls).",
)
def console(refresh: float) -> None:
    """Open the terminal console: runs, models, datasets, plugins, components, training."""
    from recforge.console.app import RecforgeConsole
    from recforge.services.runs import open_store

    store = open_store()  # errors (e.g. a database behind the code) print before the UI starts
    try:
        RecforgeConsole(store=store, refresh_s=refresh).run()
    finally:
        store.close()


COMMANDS = [console]
