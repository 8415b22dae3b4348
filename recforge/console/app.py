"""The recforge ops console: a keyboard-first Textual app over the store and the registry.

Top-level sections are Textual *modes* (each keeps its own screen stack): Runs, Models,
Datasets, Plugins, Components and Train. Run detail and Compare are pushed on top of Runs.
The number keys switch sections, ``?`` shows the help and ``ctrl+p`` the command palette,
whose commands are the same sections and actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from recforge.console.screens.compare import CompareScreen
from recforge.console.screens.components import ComponentsScreen
from recforge.console.screens.confirm import ConfirmDialog
from recforge.console.screens.datasets import DatasetsScreen
from recforge.console.screens.help import HelpScreen
from recforge.console.screens.models import ModelsScreen
from recforge.console.screens.plugins import PluginsScreen
from recforge.console.screens.run_detail import RunDetailScreen
from recforge.console.screens.runs import RunsScreen
from recforge.console.screens.studies import StudiesScreen
from recforge.console.screens.train_launcher import TrainLauncherScreen
from recforge.console.services import open_store
from recforge.core.errors import RecforgeError
from recforge.core.store import Store

#: (mode, key, title, what it shows) of every top-level section
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("runs", "1", "Runs", "every run, live, sortable and filterable"),
    ("models", "2", "Models", "registered model versions: promote, tag, delete"),
    ("datasets", "3", "Datasets", "dataset recipes and prepared datasets"),
    ("plugins", "4", "Plugins", "installed plugins: install and uninstall"),
    ("components", "5", "Components", "encoders, interactions, rankers and their parameters"),
    ("train", "6", "Train", "launch, watch and cancel a training run"),
    ("studies", "7", "Studies", "hyperparameter searches: trials, best so far, importances"),
)


class RecforgeConsole(App[None]):
    """The console app.

    Args:
        store: the store to show (default: :meth:`Store.open`, as the CLI does).
        refresh_s: seconds between live refreshes of the runs table (None: no timer; tests).
    """

    CSS_PATH = "app.tcss"
    TITLE = "recforge console"
    BINDINGS = [
        *(Binding(key, f"section('{mode}')", title, show=False) for mode, key, title, _ in SECTIONS),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, store: Store | None = None, refresh_s: float | None = 2.0) -> None:
        super().__init__()
        self.store = store if store is not None else open_store()
        self.refresh_s = refresh_s

    def on_mount(self) -> None:
        self.add_mode("runs", lambda: RunsScreen(refresh_s=self.refresh_s))
        self.add_mode("models", ModelsScreen)
        self.add_mode("datasets", DatasetsScreen)
        self.add_mode("plugins", PluginsScreen)
        self.add_mode("components", ComponentsScreen)
        self.add_mode("train", TrainLauncherScreen)
        self.add_mode("studies", StudiesScreen)
        self.switch_mode("runs")

    # ------------------------------------------------------------------ navigation
    def action_section(self, mode: str) -> None:
        """Switch to a top-level section."""
        self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_run(self, run_id: int) -> None:
        """Push the detail screen of a run (on whichever section is current)."""
        try:
            self.store.get_run(run_id)
        except RecforgeError as err:
            self.notify(f"error: {err}", severity="error")
            return
        self.push_screen(RunDetailScreen(run_id))

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
        yield from super().get_system_commands(screen)
        for mode, key, title, help_text in SECTIONS:
            yield SystemCommand(f"Go to {title}", f"{help_text} (key {key})", lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Help", "all key bindings (key ?)", self.action_help)
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.show and binding.description:
                yield SystemCommand(
                    f"{screen.sub_title or type(screen).__name__}: {binding.description}",
                    f"key {binding.key}",
                    lambda a=binding.action, s=screen: self.call_later(s.run_action, a),
                )
