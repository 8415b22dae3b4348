"""Help screen: every key binding of the console, grouped by screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_TEXT = """\
# recforge console

Keyboard first; the footer shows the keys of the current screen and **ctrl+p** opens the
command palette (every screen and action by name).

| Key | Anywhere |
|---|---|
| 1 2 3 4 5 6 | Runs, Models, Datasets, Plugins, Components, Train |
| ? | this help |
| ctrl+p | command palette |
| q | quit |

| Key | Runs |
|---|---|
| enter | open the run |
| space | mark / unmark for comparison |
| c | compare the marked runs (two or more) |
| s / S | sort by the next column / reverse |
| / | filter (text, `status:running`, `exp:NAME`) |
| x | delete the run (confirmed) |

| Key | Run detail |
|---|---|
| r / u | rerun / resume in the train launcher |
| g | register as a model |
| e | export config + metrics JSON |
| m | next metric in the chart |
| x | delete (confirmed) |
| escape | back |

| Key | Models / Plugins / Train |
|---|---|
| p / t / x | promote / tag / delete a model version |
| i / u | install / uninstall a plugin package (pip, confirmed) |
| ctrl+l / ctrl+o / ctrl+k / esc | launch / load file / cancel a run / leave the editor |
"""


class HelpScreen(ModalScreen[None]):
    """Shows :data:`HELP_TEXT`; any of Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(HELP_TEXT)

    def action_close(self) -> None:
        self.dismiss(None)
