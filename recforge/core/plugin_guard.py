"""Run plugin code so that nothing it raises can take recforge down, except the user's Ctrl-C.

A plugin is third-party code run at import and in every hook. ``except Exception`` is not
enough: ``sys.exit()`` (SystemExit) or a ``KeyboardInterrupt`` raised at import is a
:class:`BaseException`, and either one used to end *every* command silently, ``recforge
plugins uninstall`` included. :func:`guarded` catches every BaseException and hands it back
as the plugin's error, with one exception: a real Ctrl-C from the user (SIGINT arriving
while the plugin runs) still interrupts, as the user asked. A real SIGINT is told apart from a
plugin raising ``KeyboardInterrupt`` itself by a SIGINT handler installed for the duration.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class UserInterrupt(KeyboardInterrupt):
    """The user pressed Ctrl-C while plugin code ran (never swallowed)."""


@contextmanager
def _real_sigint() -> Iterator[None]:
    """Make a real SIGINT raise :class:`UserInterrupt` (main thread only; elsewhere no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise UserInterrupt()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):  # no signals here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def guarded(call: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    """``(result, None)``, or ``(None, error)`` for anything ``call`` raised but a real Ctrl-C."""
    try:
        with _real_sigint():
            return call(), None
    except UserInterrupt:
        raise KeyboardInterrupt from None
    except BaseException as err:  # noqa: BLE001 - isolation is the point, see the module docstring
        return None, err


def describe(err: BaseException) -> str:
    """One line for ``recforge plugins list``: ``SystemExit: 3``, ``KeyboardInterrupt at import``."""
    text = str(err)
    if isinstance(err, SystemExit):
        text = f"called sys.exit({err.code!r})"
    elif isinstance(err, KeyboardInterrupt) and not text:
        text = "raised KeyboardInterrupt itself"
    return " ".join(f"{type(err).__name__}: {text}".split())
