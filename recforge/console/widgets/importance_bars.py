"""Horizontal bars of per-field importance, with the interval over repeats when known.

:func:`bar` turns a value into block characters in eighths of a cell so short bars still
show their size; negative importances (noise) draw no bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from recforge.services.analysis import Importance

EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(value: float, vmax: float, width: int) -> str:
    """Block characters for ``value`` on a ``width``-cell scale whose end is ``vmax``."""
    if vmax <= 0 or not math.isfinite(value) or value <= 0:
        return ""
    eighths = round(min(value / vmax, 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


class ImportanceBars(Widget):
    """Fields sorted by importance, largest first, each with a bar and its value.

    Args:
        items: the importances to draw.
        title: a caption above the bars.
        bar_width: cells of the longest bar.
    """

    def __init__(
        self, items: Sequence[Importance] = (), title: str = "", bar_width: int = 30, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.items = sorted(items, key=lambda i: -i.value if math.isfinite(i.value) else math.inf)
        self.title = title
        self.bar_width = bar_width

    def render(self) -> Text:
        if not self.items:
            return Text("no field importance in this analysis", style="dim")
        text = Text()
        if self.title:
            text.append(self.title + "\n", style="bold")
        width = max(len(i.field) for i in self.items)
        top = max((i.value for i in self.items if math.isfinite(i.value)), default=0.0)
        for item in self.items:
            text.append(f"{item.field:>{width}} ", style="bold")
            drawn = bar(item.value, top, self.bar_width)
            text.append(drawn.ljust(self.bar_width), style="magenta")
            text.append(f" {item.value:.4f}")
            if item.low is not None and item.high is not None:
                text.append(f" [{item.low:.4f}, {item.high:.4f}]", style="dim")
            text.append("\n")
        return text
