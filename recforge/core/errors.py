"""User-facing errors.

Every error a user can cause is a :class:`RecforgeError` whose message names the problem *and*
the fix in one line. The CLI prints ``error: <message>`` and exits with ``exit_code``; the
traceback is only shown under ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RecforgeError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one-line message."""

    exit_code: int = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        if fix is not None and message.endswith(".") and not message.endswith(".."):
            message = message[:-1]  # "problem; fix", never "problem.; fix"
        self.problem = message
        self.fix = fix
        text = message if fix is None else f"{message}; {fix}"
        super().__init__(" ".join(text.split("\n")))


class ConfigError(RecforgeError):
    """The experiment config or a CLI override is malformed or names something unknown."""


class UnknownNameError(ConfigError):
    """A component, parameter, field or recipe name that does not exist."""


class DataError(RecforgeError):
    """A data file is missing, malformed, or does not match the declared schema."""


class PluginError(RecforgeError):
    """A plugin failed to import or register, or two plugins claim the same name."""


class StoreError(RecforgeError):
    """The run store cannot be opened, is behind the code, or lacks a requested record."""


class NotFoundError(StoreError):
    """A run, model or artifact that does not exist in the store."""


class ArtifactError(RecforgeError):
    """A saved model or artifact is missing, tampered with, or outside the artifact folder."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(what: str, name: str, choices: Iterable[str], fix: str) -> UnknownNameError:
    """Build the standard 'unknown X' error with a did-you-mean suggestion and a fix."""
    choices = sorted(choices)
    return UnknownNameError(f"unknown {what} '{name}'{did_you_mean(name, choices)}", fix=fix)
