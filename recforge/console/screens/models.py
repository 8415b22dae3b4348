"""Models screen: registered model versions with stage and tags; promote, tag, delete."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from recforge.console import formatting as fmt
from recforge.console.screens.base import ConsoleScreen
from recforge.console.screens.prompt import PromptDialog
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.errors import RecforgeError
from recforge.core.store import MODEL_STAGES
from recforge.services.models import ModelRow, delete_model, list_model_rows, parse_tag, tag_model


class ModelsScreen(ConsoleScreen):
    """Registered models: ``p`` promote, ``t`` tag, ``x`` delete, enter opens the source run."""

    #: the table takes the keys on arrival (a filter field would swallow 1-6, j/k and ?)
    AUTO_FOCUS = "#models-table"

    BINDINGS = [
        Binding("p", "promote", "Promote"),
        Binding("t", "tag", "Tag"),
        Binding("x", "delete", "Delete"),
        Binding("enter", "open_run", "Source run", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ModelRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        table = PlainTable(id="models-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "version", "stage", "run", "tags", "registered")
        yield table
        yield Static("", id="models-summary", classes="summary", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Models"
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Re-read the registered models, keeping the cursor row."""
        table = self.query_one("#models-table", DataTable)
        cursor = table.cursor_row
        try:
            self.rows = list_model_rows(self.store)
        except RecforgeError as err:
            self.report(err)
            return
        table.clear()
        for row in self.rows:
            tags = ", ".join(f"{k}={fmt.plain(v)}" for k, v in sorted(row.tags.items()))
            table.add_row(
                row.name, str(row.version), row.stage, "" if row.run_id is None else str(row.run_id), tags,
                fmt.timestamp(row.created_at), key=f"{row.name}:{row.version}",
            )
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))
        names = len({r.name for r in self.rows})
        self.query_one("#models-summary", Static).update(f"{names} models, {len(self.rows)} versions")

    def current(self) -> ModelRow | None:
        table = self.query_one("#models-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def action_promote(self) -> None:
        row = self.current()
        if row is None:
            return

        def done(stage: str | None) -> None:
            if not stage:
                return
            try:
                self.store.promote(row.name, row.version, stage)
            except RecforgeError as err:
                self.report(err)
                return
            self.notify(f"{row.name} v{row.version} -> {stage}")
            self.reload()

        self.app.push_screen(
            PromptDialog(f"Stage for {row.name} v{row.version} ({', '.join(MODEL_STAGES)}):", value=row.stage), done
        )

    def action_tag(self) -> None:
        row = self.current()
        if row is None:
            return

        def done(text: str | None) -> None:
            if not text:
                return
            try:
                key, value = parse_tag(text)
                tag_model(self.store, row.name, row.version, key, value)
            except RecforgeError as err:
                self.report(err)
                return
            self.reload()

        self.app.push_screen(PromptDialog(f"Tag {row.name} v{row.version} (key=value, -key removes):"), done)

    def action_delete(self) -> None:
        row = self.current()
        if row is None:
            return

        def really() -> None:
            try:
                delete_model(self.store, row.name, row.version)
            except RecforgeError as err:
                self.report(err)
                return
            self.notify(f"deleted {row.name} v{row.version}")
            self.reload()

        self.console.confirm(f"Delete model {row.name} version {row.version}? (its run stays)", really)

    def action_open_run(self) -> None:
        row = self.current()
        if row is not None and row.run_id is not None:
            self.console.open_run(row.run_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()
