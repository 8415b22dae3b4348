"""The recforge ops console: a keyboard-first Textual app over the store and the registry.

Top-level sections are Textual *modes* (each keeps its own screen stack): Runs, Models,
Datasets, Plugins, Components, Train, Studies and Serving. Run detail and Compare are pushed on top of Runs.
The number keys switch sections, ``?`` shows the help and ``ctrl+p`` the command palette,
whose commands are the same sections and actions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, TextArea

from recforge.console.formatting import PathAlias
from recforge.console.screens.compare import CompareScreen
from recforge.console.screens.components import ComponentsScreen
from recforge.console.screens.confirm import ConfirmDialog
from recforge.console.screens.datasets import DatasetsScreen
from recforge.console.screens.help import HelpScreen
from recforge.console.screens.models import ModelsScreen
from recforge.console.screens.plugins import PluginsScreen
from recforge.console.screens.run_detail import RunDetailScreen
from recforge.console.screens.runs import RunsScreen
from recforge.console.screens.serving import ServingScreen
from recforge.console.screens.studies import StudiesScreen
from recforge.console.screens.train_launcher import TrainLauncherScreen
from recforge.core import paths
from recforge.core.errors import RecforgeError
from recforge.core.store import Store
from recforge.services.runs import open_store


@dataclass(frozen=True)
class Section:
    """A top-level section: a Textual mode with its number key and a screen factory."""

    mode: str
    key: str
    title: str
    help: str
    make: Callable[[RecforgeConsole], Screen[Any]]


#: every top-level section, in key order; a new screen (studies, serving) adds ONE line here
SECTIONS: list[Section] = [
    Section("runs", "1", "Runs", "every run, live, sortable and filterable", lambda app: RunsScreen(refresh_s=app.refresh_s)),
    Section("models", "2", "Models", "registered model versions: promote, tag, delete", lambda app: ModelsScreen()),
    Section("datasets", "3", "Datasets", "dataset recipes and prepared datasets", lambda app: DatasetsScreen()),
    Section("plugins", "4", "Plugins", "installed plugins: install and uninstall", lambda app: PluginsScreen()),
    Section("components", "5", "Components", "encoders, interactions, rankers and their parameters",
            lambda app: ComponentsScreen()),
    Section("train", "6", "Train", "launch, watch and cancel a training run", lambda app: TrainLauncherScreen()),
    Section("studies", "7", "Studies", "hyperparameter searches: trials, best so far, importances",
            lambda app: StudiesScreen()),
    Section("serving", "8", "Serving", "a running `recforge serve`: model, catalogue, request rate, latency",
            lambda app: ServingScreen(refresh_s=app.refresh_s)),
]


def screenshot_dir() -> Path:
    """Where screenshots go: ``RECFORGE_SCREENSHOT_DIR``, else ``RECFORGE_HOME/screenshots``
    (created when missing)."""
    raw = os.environ.get("RECFORGE_SCREENSHOT_DIR")
    folder = Path(paths.expand(raw)) if raw else paths.home() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class RecforgeConsole(App[None]):
    """The console app.

    Args:
        store: the store to show (default: :meth:`Store.open`, as the CLI does).
        refresh_s: seconds between live refreshes of the runs table, run detail and the Serving
            view's polls (None: no timer; tests).
        path_alias: show a folder under another name in paths and messages (tests pin the
            store's temporary folder with it; default: paths as they are).
    """

    CSS_PATH = "app.tcss"
    TITLE = "recforge console"
    BINDINGS = [
        *(Binding(s.key, f"section('{s.mode}')", s.title, show=False) for s in SECTIONS),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+s", "screenshot", "Screenshot", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, store: Store | None = None, refresh_s: float | None = 2.0,
                 path_alias: PathAlias | None = None) -> None:
        super().__init__()
        self.store = store if store is not None else open_store()
        self.refresh_s = refresh_s
        self.path_alias = path_alias

    def shown_path(self, text: str) -> str:
        """``text`` (a path or a message naming one) as the console shows it."""
        return self.path_alias.apply(text) if self.path_alias is not None else text

    def on_mount(self) -> None:
        for section in SECTIONS:
            self.add_mode(section.mode, lambda s=section: s.make(self))
        self.switch_mode(SECTIONS[0].mode)

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """Notifications carry user text (names, paths, errors): plain text unless asked."""
        super().notify(message, markup=markup, **kwargs)

    # ------------------------------------------------------------------ navigation
    def action_section(self, mode: str) -> None:
        """Switch to a top-level section."""
        self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(), lambda _: self.call_after_refresh(self._leave_text_fields))

    def _leave_text_fields(self) -> None:
        """After Help, focus is not handed back to a text field: the section keys work again
        (the launcher's path field used to swallow them)."""
        if isinstance(self.screen.focused, (Input, TextArea)):
            self.screen.set_focus(None)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen in :func:`screenshot_dir` (created when missing)."""
        try:
            folder = Path(path) if path else screenshot_dir()
            folder.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(folder))
        except OSError as err:
            self.notify(f"error: cannot save the screenshot: {err.strerror or err}; set RECFORGE_SCREENSHOT_DIR "
                        "to a writable folder", severity="error")
            return
        self.notify(f"screenshot saved to {saved}")

    def open_run(self, run_id: int) -> None:
        """Push the detail screen of a run (on whichever section is current)."""
        try:
            self.store.get_run(run_id)
        except RecforgeError as err:
            self.notify(f"error: {err}", severity="error")
            return
        self.push_screen(RunDetailScreen(run_id, refresh_s=self.refresh_s))

    def open_compare(self, run_ids: list[int]) -> None:
        """Push the comparison of two or more runs."""
        self.push_screen(CompareScreen(run_ids))

    def open_train(self, config_text: str, resume_run_id: int | None = None, launch: bool = False) -> None:
        """Switch to the train launcher with a config loaded (rerun/resume from run detail)."""
        self.switch_mode("train")
        screen = self.screen
        if isinstance(screen, TrainLauncherScreen):
            screen.load_text(config_text, resume_run_id=resume_run_id)
            if launch:
                screen.action_launch()

    # ------------------------------------------------------------------ shared actions
    def confirm(self, question: str, then: Callable[[], None]) -> None:
        """Ask ``question``; run ``then`` only on yes."""

        def done(answer: bool | None) -> None:
            if answer:
                then()

        self.push_screen(ConfirmDialog(question), done)

    def delete_run(self, run_id: int, after: Callable[[], None] | None = None) -> None:
        """Delete a run and its artifacts after confirmation."""

        def really() -> None:
            try:
                self.store.delete_run(run_id)
            except RecforgeError as err:
                self.notify(f"error: {err}", severity="error")
                return
            self.notify(f"deleted run {run_id}")
            if after is not None:
                after()

        self.confirm(f"Delete run {run_id} with its metrics and artifacts?", really)

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's saves to ~/Downloads, which may not exist
                command = SystemCommand("Screenshot", "save an SVG of this screen (key ctrl+s)",
                                        lambda: self.set_timer(0.1, self.action_screenshot))
            yield command
        for section in SECTIONS:
            yield SystemCommand(f"Go to {section.title}", f"{section.help} (key {section.key})",
                                lambda m=section.mode: self.switch_mode(m))
        yield SystemCommand("Help", "all key bindings (key ?)", self.action_help)
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.show and binding.description:
                yield SystemCommand(
                    f"{screen.sub_title or type(screen).__name__}: {binding.description}",
                    f"key {binding.key}",
                    lambda a=binding.action, s=screen: self.call_later(s.run_action, a),
                )
