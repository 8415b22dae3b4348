"""Text formatting shared by the screens: durations, timestamps, metric values, dicts."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

STATUS_STYLE = {
    "running": "bold yellow",
    "finished": "green",
    "failed": "bold red",
    "interrupted": "magenta",
    "created": "dim",
}


def duration(seconds: float | None) -> str:
    """``"1h02m"``, ``"3m05s"``, ``"42s"``; empty when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def timestamp(value: dt.datetime | None) -> str:
    """UTC ``YYYY-MM-DD HH:MM`` (the store keeps UTC); empty when unknown."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M")


def metric(value: float | None) -> str:
    """Four significant digits; ``nan`` for missing or NaN."""
    if value is None or not math.isfinite(value):
        return "nan" if value is not None else ""
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"


def plain(value: Any) -> str:
    """Compact one-line text of a param or tag value."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class PathAlias:
    """Show the folder ``root`` as ``label`` wherever a path or message names it.

    The console shows paths as they are (no alias) unless given one; the snapshot tests give
    the store's temporary folder a fixed label, so the SVGs do not depend on where pytest put it.
    """

    root: str
    label: str

    def apply(self, text: str) -> str:
        return text.replace(self.root, self.label) if self.root else text
