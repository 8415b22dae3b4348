"""Plugins screen: loaded plugins with components, versions and load errors; pip install/uninstall."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, RichLog, Static

from recforge.console.messages import PipDone, PipLine
from recforge.console.screens.base import ConsoleScreen
from recforge.console.screens.prompt import PromptDialog
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.errors import RecforgeError
from recforge.core.registry import PluginRecord, get_registry, reset_registry
from recforge.services import plugins as pip_service


def plugin_text(record: PluginRecord) -> str:
    """The detail pane of one plugin."""
    lines = [f"{record.name} {record.version} ({record.origin})"]
    if record.error:
        lines += ["", f"load error: {record.error}"]
    lines += ["", f"components ({len(record.components)}):"]
    lines += [f"  {name}" for name in sorted(record.components)] or ["  (none)"]
    return "\n".join(lines)


class PluginsScreen(ConsoleScreen):
    """Loaded plugins; ``i`` installs a package by name, ``u`` uninstalls the selected one."""

    #: the table takes the keys on arrival (a filter field would swallow 1-6, j/k and ?)
    AUTO_FOCUS = "#plugins-table"

    BINDINGS = [
        Binding("i", "install", "Install"),
        Binding("u", "uninstall", "Uninstall"),
        Binding("l", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[PluginRecord] = []
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="split"):
            with Vertical(classes="left"):
                table = PlainTable(id="plugins-table", cursor_type="row", zebra_stripes=True)
                table.add_columns("plugin", "version", "origin", "#", "status")
                yield table
            yield Static("", id="plugin-detail", classes="right", markup=False)
        yield RichLog(id="pip-log", max_lines=500, wrap=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Plugins"
        self.reload()
        self.query_one("#plugins-table", DataTable).focus()

    def reload(self) -> None:
        """Re-list the registry's plugin records."""
        self.records = get_registry().plugin_list()
        table = self.query_one("#plugins-table", DataTable)
        table.clear()
        for rec in self.records:
            status = "error" if rec.error else "ok"
            table.add_row(rec.name, rec.version, rec.origin, str(len(rec.components)), status, key=rec.name)
        self._show(0)

    def _show(self, index: int) -> None:
        detail = self.query_one("#plugin-detail", Static)
        detail.update(plugin_text(self.records[min(index, len(self.records) - 1)]) if self.records else "no plugins")

    @on(DataTable.RowHighlighted, "#plugins-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def current(self) -> PluginRecord | None:
        table = self.query_one("#plugins-table", DataTable)
        return self.records[table.cursor_row] if self.records and 0 <= table.cursor_row < len(self.records) else None

    def action_reload(self) -> None:
        reset_registry()
        self.reload()

    def action_install(self) -> None:
        def ask(name: str | None) -> None:
            if name:
                self.console.confirm(f"pip install {name} into this environment?", lambda: self.start("install", name))

        self.app.push_screen(PromptDialog("Install plugin package (name, path or URL):"), ask)

    def action_uninstall(self) -> None:
        rec = self.current()
        if rec is None:
            return
        if rec.origin == "builtin":
            self.notify(f"{rec.name} is built in; it cannot be uninstalled", severity="warning")
            return
        package = rec.name

        def ask(name: str | None) -> None:
            if name:
                self.console.confirm(f"pip uninstall {name}?", lambda: self.start("uninstall", name))

        self.app.push_screen(PromptDialog("Uninstall distribution:", value=package), ask)

    def start(self, action: str, package: str) -> None:
        """Validate the request and run pip in a worker thread."""
        if self.busy:
            self.notify("pip is already running", severity="warning")
            return
        try:
            argv = pip_service.pip_command(action, package)
        except RecforgeError as err:
            self.report(err)
            return
        self.busy = True
        log = self.query_one("#pip-log", RichLog)
        log.write(f"$ {' '.join(argv[2:])}")
        self._pip(argv, action, package)

    @work(thread=True, exclusive=True, group="pip")
    def _pip(self, argv: list[str], action: str, package: str) -> None:
        try:
            code = pip_service.run_pip(argv, lambda line: self.post_message(PipLine(line))).code
        except RecforgeError as err:
            self.post_message(PipLine(f"error: {err}"))
            code = 1
        self.post_message(PipDone(code, action, package))

    def on_pip_line(self, message: PipLine) -> None:
        self.query_one("#pip-log", RichLog).write(message.line)

    def on_pip_done(self, message: PipDone) -> None:
        self.busy = False
        log = self.query_one("#pip-log", RichLog)
        if message.returncode == 0:
            log.write(f"pip {message.action} {message.package}: done")
            self.notify(f"{message.action}ed {message.package}; plugins reloaded")
        else:
            log.write(f"pip {message.action} {message.package}: failed (exit {message.returncode})")
            self.notify(f"pip {message.action} {message.package} failed; see the log", severity="error")
        self.reload()
