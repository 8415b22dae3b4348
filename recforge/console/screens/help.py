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
command palette (every section and action by name). Text you type (filters, paths, config)
keeps its keys until **escape** leaves the field.

| Key | Anywhere |
|---|---|
| 1 - 8 | Runs, Models, Datasets, Plugins, Components, Train, Studies, Serving |
| ? | this help (escape, q or ? closes it) |
| ctrl+p | command palette |
| ctrl+s | save an SVG screenshot (folder: `RECFORGE_SCREENSHOT_DIR`, else `RECFORGE_HOME/screenshots`) |
| j / k, up / down | move in a table |
| q | quit |

| Key | Runs |
|---|---|
| enter | open the run |
| space | mark / unmark for comparison |
| c | compare the marked runs (two or more) |
| s / S | sort by the next column / reverse |
| / | filter (text, `status:running`, `exp:NAME`); escape clears it |
| x | delete the run (confirmed) |

| Key | Run detail (refreshes while the run trains) |
|---|---|
| 1 - 6 | tabs: Metrics, Params, Config, Artifacts, Versions, Analysis |
| m | next metric in the chart (values by epoch) |
| r / u | rerun / resume in the train launcher |
| g | register as a model |
| e | export config + metrics JSON |
| x | delete (confirmed) |
| escape | back |

| Key | Compare (refreshes while a run trains) |
|---|---|
| escape | back; deltas are green when better for that metric (AUC up, logloss down) |

| Key | Models |
|---|---|
| enter | open the source run |
| p / t / x | promote / tag (`key=value`, `-key` removes) / delete a version |

| Key | Plugins / Components |
|---|---|
| i / u / l | install / uninstall (pip, confirmed) / reload plugins |
| / / t | filter components by name / cycle the kind |

| Key | Train |
|---|---|
| ctrl+l / ctrl+o / ctrl+k | launch / load the config file / cancel the run |
| escape | leave the editor (the section keys work again) |

| Key | Studies (`recforge tune`) |
|---|---|
| enter | on a trial: open its run |
| r | reload |

| Key | Serving (a running `recforge serve`, polled every 2 s) |
|---|---|
| u | edit the server URL (default `RECFORGE_SERVE_URL`, else http://127.0.0.1:8000); enter polls it |
| r | poll now |
| escape | leave the URL field |
"""


class HelpScreen(ModalScreen[None]):
    """Shows :data:`HELP_TEXT`; any of Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(HELP_TEXT)

    def action_close(self) -> None:
        self.dismiss(None)
