"""Heatmap of a symmetric field-pair matrix (pair interaction strength from the analysis).

Each cell shows the value on a background whose intensity grows with it, so the strongest
pairs stand out at a glance; the pure function :func:`cell_shade` does the scaling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

CELL = 7


def cell_shade(value: float, vmax: float) -> float:
    """Intensity in [0, 1] of ``value`` on a scale whose top is ``vmax`` (negatives -> 0)."""
    if not math.isfinite(value) or vmax <= 0:
        return 0.0
    return min(max(value / vmax, 0.0), 1.0)


def _background(shade: float) -> Color:
    # from a dark blue-grey (weak) to a bright orange (strong)
    lo, hi = (30, 34, 48), (235, 120, 40)
    rgb = tuple(round(a + (b - a) * shade) for a, b in zip(lo, hi))
    return Color.from_rgb(*rgb)


class Heatmap(Widget):
    """Labelled matrix of pair strengths; the diagonal is blank.

    Args:
        labels: field names, one per row and column.
        matrix: ``len(labels) x len(labels)`` values (``None`` or NaN cells are blank).
        title: a caption above the grid.
    """

    def __init__(
        self,
        labels: Sequence[str] = (),
        matrix: Sequence[Sequence[float | None]] = (),
        title: str = "",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.labels = list(labels)
        self.matrix = [list(row) for row in matrix]
        self.title = title

    def vmax(self) -> float:
        """The largest off-diagonal finite value (the top of the colour scale)."""
        best = 0.0
        for i, row in enumerate(self.matrix):
            for j, v in enumerate(row):
                if i != j and v is not None and math.isfinite(v):
                    best = max(best, v)
        return best

    def render(self) -> Text:
        if not self.labels:
            return Text("no pair-strength matrix in this analysis", style="dim")
        text = Text()
        if self.title:
            text.append(self.title + "\n", style="bold")
        width = max(len(lbl) for lbl in self.labels)
        text.append(" " * (width + 1))
        for j, _ in enumerate(self.labels):
            text.append(f"{j:>{CELL - 1}} ", style="dim")
        text.append("\n")
        top = self.vmax()
        for i, label in enumerate(self.labels):
            text.append(f"{label:>{width}} ", style="bold")
            for j in range(len(self.labels)):
                v = self.matrix[i][j] if i < len(self.matrix) and j < len(self.matrix[i]) else None
                if i == j or v is None or not math.isfinite(v):
                    text.append(" " * CELL, style="dim")
                    continue
                shade = cell_shade(v, top)
                fg = Color.from_rgb(0, 0, 0) if shade > 0.55 else Color.from_rgb(230, 230, 230)
                text.append(f"{v:>{CELL - 1}.3f} ", style=Style(color=fg, bgcolor=_background(shade)))
            text.append(f" {i}\n", style="dim")
        return text
