"""Components screen: browse encoders, interactions, rankers and recipes with params and docs."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Static

from recforge.console import formatting as fmt
from recforge.console.screens.base import ConsoleScreen
from recforge.console.widgets.plain_table import PlainTable
from recforge.core.components import KINDS
from recforge.core.registry import ComponentInfo, get_registry
from recforge.services.text import plain_doc


def component_text(info: ComponentInfo) -> str:
    """The detail pane: identity, parameters (type, default, help) and the docstring."""
    lines = [f"{info.name}  ({info.kind}, {info.plugin}=={info.plugin_version}, v{info.version})", ""]
    if info.params:
        lines.append("Parameters:")
        for p in info.params:
            choices = f" one of {', '.join(map(str, p.choices))}" if p.choices else ""
            lines.append(f"  {p.name}: {p.type} = {fmt.plain(p.default)}{choices}")
            if p.help:
                lines.append(f"      {p.help}")
    else:
        lines.append("Parameters: none")
    lines += ["", plain_doc(info.doc) or "(no docstring)"]
    return "\n".join(lines)


class ComponentsScreen(ConsoleScreen):
    """A filterable list of every registered component with the selected one's details.

    The filter takes a wildcard on the name (``*fm*``) and ``kind:encoder`` style kind words.
    """

    #: the table takes the keys on arrival (a filter field would swallow 1-6, j/k and ?)
    AUTO_FOCUS = "#components-table"

    BINDINGS = [Binding("slash", "filter", "Filter"), Binding("t", "next_kind", "Kind")]

    def __init__(self) -> None:
        super().__init__()
        self.kind: str | None = None
        self.pattern: str | None = None
        self.items: list[ComponentInfo] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ filter: *wildcard* on name", id="components-filter")
        with Horizontal(classes="split"):
            with Vertical(classes="left"):
                table = PlainTable(id="components-table", cursor_type="row", zebra_stripes=True)
                table.add_columns("kind", "name", "plugin")
                yield table
            with VerticalScroll(classes="right"):
                yield Static("", id="component-doc", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Components"
        self.reload()
        self.query_one("#components-table", DataTable).focus()

    def reload(self) -> None:
        """Re-list the components for the current kind and pattern."""
        pattern = self.pattern if self.pattern and any(c in self.pattern for c in "*?[") else (
            f"*{self.pattern}*" if self.pattern else None
        )
        self.items = get_registry().list(self.kind, pattern)
        table = self.query_one("#components-table", DataTable)
        table.clear()
        for info in self.items:
            table.add_row(info.kind, info.name, info.plugin, key=info.name)
        self.sub_title = f"Components · {self.kind or 'all kinds'} · {len(self.items)}"
        self._show(0)

    def _show(self, index: int) -> None:
        doc = self.query_one("#component-doc", Static)
        if not self.items:
            doc.update("no component matches")
            return
        doc.update(component_text(self.items[min(max(index, 0), len(self.items) - 1)]))

    @on(DataTable.RowHighlighted, "#components-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    @on(Input.Changed, "#components-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.pattern = event.value.strip() or None
        self.reload()

    @on(Input.Submitted, "#components-filter")
    def _filter_done(self) -> None:
        self.query_one("#components-table", DataTable).focus()

    def action_filter(self) -> None:
        self.query_one("#components-filter", Input).focus()

    def action_next_kind(self) -> None:
        """Cycle all kinds -> encoder -> interaction -> ranker -> dataset -> all."""
        order: list[str | None] = [None, *KINDS]
        self.kind = order[(order.index(self.kind) + 1) % len(order)]
        self.reload()
