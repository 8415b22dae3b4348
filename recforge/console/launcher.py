"""Run an experiment from the console in a worker thread, with live events and cancellation.

:class:`TrainJob` wraps :func:`recforge.core.experiment.run_experiment` (the same runner as
``recforge train``): it forwards every training event to a callback and answers the trainer's
``on_event`` with ``True`` once :meth:`TrainJob.cancel` was called, which stops the loop
after the current step; the runner then marks the run ``interrupted`` and keeps its last
checkpoint.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from recforge.core.config import parse_yaml, validate_config

Runner = Callable[..., Any]


def default_runner() -> Runner:
    """The experiment runner of ``recforge train`` (imported late: it pulls in torch)."""
    from recforge.core.experiment import run_experiment

    return run_experiment


def default_resumer() -> Runner:
    """The runner of ``recforge runs resume``: continue a run from its last checkpoint."""
    from recforge.core.experiment import resume_experiment

    return resume_experiment


def event_dict(event: Any) -> dict[str, Any]:
    """A plain dict of a trainer event (a dataclass, a mapping, or any object)."""
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        return dataclasses.asdict(event)
    if isinstance(event, dict):
        return dict(event)
    return {k: v for k, v in vars(event).items() if not k.startswith("_")}


def progress_line(event: dict[str, Any]) -> str:
    """``epoch 2/5 · step 120/400 · loss 0.4312 · 1,234 samples/s · valid.auc 0.7812``."""
    parts = []
    if event.get("epochs"):
        parts.append(f"epoch {event.get('epoch', 0)}/{event['epochs']}")
    if event.get("kind") == "step" and event.get("steps"):
        parts.append(f"step {event.get('step', 0)}/{event['steps']}")
    if event.get("loss") is not None:
        parts.append(f"loss {event['loss']:.4f}")
    if event.get("samples_per_s"):
        parts.append(f"{event['samples_per_s']:,.0f} samples/s")
    for key, value in sorted((event.get("metrics") or {}).items()):
        if key.startswith("valid."):
            parts.append(f"{key} {value:.4f}")
    return " · ".join(parts) or str(event.get("kind", ""))


def progress_fraction(event: dict[str, Any]) -> float | None:
    """How much of the whole run is done after ``event`` (0..1), or None when unknown.

    A ``step`` event counts the finished epochs plus this epoch's steps; an ``epoch`` event
    its whole epoch; ``end`` is 1.0 (also after early stopping).
    """
    kind = event.get("kind")
    if kind == "end":
        return 1.0
    epochs, steps = int(event.get("epochs") or 0), int(event.get("steps") or 0)
    if not epochs or not steps:
        return None
    epoch = int(event.get("epoch") or 1)
    done = epoch * steps if kind == "epoch" else (epoch - 1) * steps + int(event.get("step") or 0)
    return min(max(done / (epochs * steps), 0.0), 1.0)


def parse_config_text(text: str) -> dict[str, Any]:
    """Parse and validate the launcher's YAML (ConfigError names the line or key)."""
    config = parse_yaml(text, "<launcher>")
    validate_config(config)
    return config


class TrainJob:
    """One launch: call :meth:`run` in a worker thread, :meth:`cancel` from any thread.

    Args:
        config: the validated experiment config.
        on_event: gets every event as a dict (from the worker thread).
        runner: ``runner(config, store, on_event=, progress=)`` (default :func:`default_runner`).
        store: the store to record the run in.
        resumer: ``resumer(run_id, store, on_event=, progress=)`` (default :func:`default_resumer`).
        resume_run_id: continue this run from its last checkpoint instead of a new run.
    """

    def __init__(
        self,
        config: dict[str, Any],
        on_event: Callable[[dict[str, Any]], None],
        runner: Runner | None = None,
        store: Any = None,
        resume_run_id: int | None = None,
        resumer: Runner | None = None,
    ) -> None:
        self.config = config
        self.on_event = on_event
        self.runner = runner
        self.store = store
        self.resume_run_id = resume_run_id
        self.resumer = resumer
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        """Ask the trainer to stop at its next event."""
        self.cancelled.set()

    def _relay(self, event: Any) -> bool:
        self.on_event(event_dict(event))
        return self.cancelled.is_set()

    def run(self) -> Any:
        """Run (or resume) the experiment; returns the runner's result, raises what it raises.

        A cancelled run raises ``RunInterrupted`` (a ``KeyboardInterrupt`` carrying
        ``run_id``) after the runner marked it ``interrupted``.
        """
        if self.resume_run_id is not None:
            resumer = self.resumer or default_resumer()
            return resumer(self.resume_run_id, self.store, on_event=self._relay, progress=False)
        runner = self.runner or default_runner()
        return runner(self.config, self.store, on_event=self._relay, progress=False)


def result_run_id(result: Any) -> int | None:
    """The run id in a runner's result (an int, a mapping or an object), when it has one."""
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    if isinstance(result, dict):
        value = result.get("run_id")
    else:
        value = getattr(result, "run_id", None)
        if value is None and getattr(result, "run", None) is not None:
            value = getattr(result.run, "id", None)
    return int(value) if isinstance(value, int) else None
