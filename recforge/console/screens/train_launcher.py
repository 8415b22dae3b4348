"""Train launcher: pick or edit a config, launch it in a worker, watch progress, cancel.

The run is executed by :class:`recforge.console.launcher.TrainJob` in a Textual thread
worker; events come back as :class:`TrainProgress` messages, so the UI stays responsive and
the runs table (which re-queries the store) shows the new run live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, ProgressBar, RichLog, Static, TextArea

from recforge.console.launcher import (
    Runner,
    TrainJob,
    parse_config_text,
    progress_fraction,
    progress_line,
    result_run_id,
)
from recforge.console.messages import TrainFinished, TrainProgress
from recforge.console.screens.base import ConsoleScreen
from recforge.core.config import apply_overrides, dump_config
from recforge.core.errors import RecforgeError
from recforge.core.paths import expand


class TrainLauncherScreen(ConsoleScreen):
    """Config editor plus live progress of one training run at a time.

    Args:
        runner: the experiment runner (default: ``recforge.core.experiment.run_experiment``).
        resumer: the resume runner (default: ``recforge.core.experiment.resume_experiment``).
    """

    #: the log (not a text field) has focus on arrival, so 1-6 and ? work until the user picks
    #: a field (None would inherit the app's "first focusable", the path field)
    AUTO_FOCUS = "#train-log"

    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch", priority=True),
        Binding("ctrl+o", "load", "Load file", priority=True),
        Binding("ctrl+k", "cancel", "Cancel run", priority=True),
        Binding("escape", "unfocus", "Leave editor"),
    ]

    def __init__(self, runner: Runner | None = None, resumer: Runner | None = None) -> None:
        super().__init__()
        self.runner = runner
        self.resumer = resumer
        self.job: TrainJob | None = None
        self.resume_run_id: int | None = None
        self.last_status: str | None = None
        self.last_run_id: int | None = None
        self._pending: tuple[str, int | None] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="launcher-row"):
            yield Input(placeholder="config file (ctrl+o loads it)", id="config-path")
            yield Input(placeholder="overrides: train.epochs=1 model.embedding_dim=8", id="overrides")
        yield TextArea("", language="yaml", id="config-text", show_line_numbers=False)
        yield Static("idle: load or write a config, then ctrl+l", id="train-status", classes="summary", markup=False)
        yield ProgressBar(total=100, show_eta=False, id="train-progress")  # idle: still, not pulsing
        yield RichLog(id="train-log", max_lines=300, wrap=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Train"
        if self._pending is not None:
            text, run_id = self._pending
            self._pending = None
            self.call_after_refresh(self.load_text, text, run_id)

    # ------------------------------------------------------------------ config
    def load_text(self, text: str, resume_run_id: int | None = None) -> None:
        """Put ``text`` in the editor (rerun/resume from run detail pass the run's config)."""
        if not self.is_mounted:  # switched to just now: apply once composed
            self._pending = (text, resume_run_id)
            return
        self.query_one("#config-text", TextArea).load_text(text)
        self.resume_run_id = resume_run_id
        what = f"resume run {resume_run_id}" if resume_run_id is not None else "a new run"
        self._status(f"loaded config for {what}: ctrl+l launches")

    def action_unfocus(self) -> None:
        """Leave the inputs so the section keys (1-6, ?, q) work again."""
        self.set_focus(None)

    def action_load(self) -> None:
        raw = self.query_one("#config-path", Input).value.strip()
        if not raw:
            self.notify("type a config file path first", severity="warning")
            return
        path = Path(expand(raw))
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            self.notify(f"error: cannot read {path}: {err.strerror}; check the path", severity="error")
            return
        self.load_text(text)

    def current_config(self) -> dict[str, Any]:
        """The editor's config with the overrides applied, validated."""
        config = parse_config_text(self.query_one("#config-text", TextArea).text)
        overrides = self.query_one("#overrides", Input).value.split()
        return parse_config_text(dump_config(apply_overrides(config, overrides))) if overrides else config

    # ------------------------------------------------------------------ run
    def action_launch(self) -> None:
        if self.job is not None:
            self.notify("a run is already in progress (ctrl+k cancels it)", severity="warning")
            return
        try:
            config = self.current_config()
        except RecforgeError as err:
            self.report(err)
            return
        self.job = TrainJob(
            config,
            on_event=lambda event: self.post_message(TrainProgress(event)),
            runner=self.runner,
            store=self.store,
            resume_run_id=self.resume_run_id,
            resumer=self.resumer,
        )
        self.last_status = "running"
        self.query_one("#train-log", RichLog).write(f"launching {config.get('name', 'run')}")
        self.query_one("#train-progress", ProgressBar).update(total=None, progress=0)
        self._status("running…")
        self._train(self.job)

    @work(thread=True, exclusive=True, group="train")
    def _train(self, job: TrainJob) -> None:
        try:
            result = job.run()
        except KeyboardInterrupt as err:  # RunInterrupted carries the run id
            self.post_message(TrainFinished("interrupted", run_id=getattr(err, "run_id", None)))
            return
        except RecforgeError as err:
            self.post_message(TrainFinished("failed", error=str(err)))
            return
        except Exception as err:  # noqa: BLE001 - shown to the user, not swallowed
            self.post_message(TrainFinished("failed", error=f"{type(err).__name__}: {err}"))
            return
        status = "interrupted" if job.cancelled.is_set() else "finished"
        self.post_message(TrainFinished(status, run_id=result_run_id(result)))

    def action_cancel(self) -> None:
        if self.job is None:
            self.notify("no run in progress", severity="warning")
            return
        self.job.cancel()
        self._status("cancelling after the current step…")

    def on_train_progress(self, message: TrainProgress) -> None:
        event = message.event
        line = progress_line(event)
        cancelling = self.job is not None and self.job.cancelled.is_set()
        self._status(f"cancelling after the current step… · {line}" if cancelling else line)
        fraction = progress_fraction(event)
        if fraction is not None:
            self.query_one("#train-progress", ProgressBar).update(total=1000, progress=round(fraction * 1000))
        if event.get("kind") in ("start", "epoch", "end"):
            self.query_one("#train-log", RichLog).write(f"{event.get('kind')}: {line}")

    def on_train_finished(self, message: TrainFinished) -> None:
        self.job = None
        self.resume_run_id = None
        self.last_status = message.status
        self.last_run_id = message.run_id
        run = f"run {message.run_id} " if message.run_id is not None else ""
        text = f"{run}{message.status}" + (f": {message.error}" if message.error else "")
        if message.status == "finished":
            self.query_one("#train-progress", ProgressBar).update(total=1000, progress=1000)
        self._status(text)
        self.query_one("#train-log", RichLog).write(text)
        self.notify(text, severity="error" if message.status == "failed" else "information")

    def _status(self, text: str) -> None:
        self.query_one("#train-status", Static).update(text)
