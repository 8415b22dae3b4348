"""What a long job shows while it runs: a bar redrawn by time, one line per finished part.

Used by the trainer (one line per epoch), ``analyze`` (one line per view), data preparation
and text encoding. The rules are the same everywhere:

* on a terminal (stderr is a TTY) a Rich bar is redrawn at most every :data:`REFRESH_S`
  seconds, whatever the number of steps, and finished parts print a line that stays;
* without a terminal (``recforge train ... > log 2>&1``) there is no bar, and each finished
  part writes one plain line to stderr, so a log file shows every epoch;
* ``enabled=False`` (``--json``, the console launcher, library use) prints nothing.

Stages (:func:`stage`) follow one process-wide switch, :func:`set_enabled`, which the
``recforge`` command turns on (off with ``--json``); library code and tests stay silent.

Nothing here imports torch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: seconds between redraws of a bar (and between progress events of the trainer)
REFRESH_S = 0.2

_enabled = False


def set_enabled(value: bool) -> None:
    """Turn stage reports on or off for this process (the CLI's entry point does this)."""
    global _enabled
    _enabled = bool(value)


def enabled() -> bool:
    """Whether stage reports are on (see :func:`set_enabled`)."""
    return _enabled


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def epoch_line(epoch: int, epochs: int, metrics: dict[str, float], samples_per_s: float | None,
               elapsed_s: float) -> str:
    """``epoch 2/10  loss 0.4312  valid.auc 0.7812  1,234,567 samples/s  3.2s``."""
    parts = [f"epoch {epoch}/{epochs}"]
    if "train.loss" in metrics:
        parts.append(f"loss {metrics['train.loss']:.4f}")
    parts += [f"{k} {_fmt(v)}" for k, v in sorted(metrics.items()) if k.startswith("valid.")]
    if samples_per_s:
        parts.append(f"{samples_per_s:,.0f} samples/s")
    parts.append(f"{elapsed_s:.1f}s")
    return "  ".join(parts)


class Reporter:
    """A bar (terminal only) plus lines that stay (terminal or stderr log).

    Args:
        enabled: print anything at all.
        stream: where lines and the bar go (default: stderr).
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self._progress: Any = None
        self._task: Any = None
        self._last_draw = 0.0

    # ------------------------------------------------------------------ bar
    def __enter__(self) -> Reporter:
        if self.terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=True, auto_refresh=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def start(self, description: str, total: float) -> None:
        """Begin a bar of ``total`` units (replaces the previous one)."""
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(description, total=total, info="")
        self._last_draw = 0.0
        self._progress.refresh()

    def due(self) -> bool:
        """Whether a redraw is due (at most every :data:`REFRESH_S` seconds); cheap to ask."""
        return self._progress is not None and time.monotonic() - self._last_draw >= REFRESH_S

    def update(self, completed: float, info: str = "", force: bool = False) -> None:
        """Move the bar; drawn only when due (or ``force``)."""
        if self._progress is None or self._task is None or not (force or self.due()):
            return
        self._last_draw = time.monotonic()
        self._progress.update(self._task, completed=completed, info=info)
        self._progress.refresh()

    # ------------------------------------------------------------------ lines
    def line(self, text: str) -> None:
        """A line that stays: above the bar on a terminal, a plain stderr line otherwise."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
            return
        self.stream.write(text + "\n")
        self.stream.flush()


@contextmanager
def stage(name: str, on: bool | None = None, total: float | None = None) -> Iterator[Reporter]:
    """One named stage of a job (``preparing data``, ``analysis: pairs``, ``encoding texts``).

    Yields a :class:`Reporter` whose bar (when ``total`` is given) the caller advances; on
    exit a line ``<name>: done in 3.2s`` stays. ``on`` overrides the process-wide switch.
    """
    started = time.perf_counter()
    with Reporter(_enabled if on is None else on) as rep:
        if total is not None:
            rep.start(name, total)
        yield rep
        rep.line(f"{name}: done in {time.perf_counter() - started:.1f}s")
