"""Datasets screen: recipes from the registry and prepared datasets recorded in the store."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Label

from recforge.console import formatting as fmt
from recforge.console.screens.base import ConsoleScreen
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.errors import RecforgeError
from recforge.core.registry import get_registry
from recforge.services.runs import list_dataset_rows
from recforge.services.text import plain_doc


def counts_text(counts: dict[str, object]) -> str:
    """``rows=100000 users=943 ...`` with nested mappings flattened one level."""
    parts = []
    for key, value in counts.items():
        if isinstance(value, dict):
            parts += [f"{key}.{k}={fmt.plain(v)}" for k, v in value.items()]
        else:
            parts.append(f"{key}={fmt.plain(value)}")
    return " ".join(parts)


class DatasetsScreen(ConsoleScreen):
    """Two tables: the registered dataset recipes, then the prepared datasets with counts."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Recipes (registered dataset components)", classes="section")
        recipes = PlainTable(id="recipes-table", cursor_type="row", zebra_stripes=True)
        recipes.add_columns("recipe", "plugin", "summary")
        yield recipes
        yield Label("Prepared datasets (in the store)", classes="section")
        prepared = PlainTable(id="prepared-table", cursor_type="row", zebra_stripes=True)
        prepared.add_columns("name", "fingerprint", "counts")
        yield prepared
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Datasets"
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Re-read both lists."""
        recipes = self.query_one("#recipes-table", DataTable)
        recipes.clear()
        for info in get_registry().list("dataset"):
            recipes.add_row(info.name, info.plugin, plain_doc(info.summary), key=info.name)
        prepared = self.query_one("#prepared-table", DataTable)
        prepared.clear()
        try:
            rows = list_dataset_rows(self.store)
        except RecforgeError as err:
            self.report(err)
            return
        for row in rows:
            prepared.add_row(row.name, row.fingerprint[:16], counts_text(row.counts))
