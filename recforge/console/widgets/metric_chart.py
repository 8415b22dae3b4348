"""Per-epoch metric list: one sparkline per metric with its min, max and last value.

The chosen metric (``m`` cycles) is drawn as a real plot beside it by
:class:`~recforge.console.widgets.curve_plot.CurvePlot`; the sparklines are block characters,
so the list works over SSH in any terminal. :func:`sparkline` carries the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


def _levels(values: Sequence[float], levels: int) -> list[int]:
    """Map values onto 0..levels (min -> 1 so every point is visible, max -> levels)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [0 for _ in values]
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(0)
        elif hi == lo:
            out.append(levels)
        else:
            out.append(1 + round((v - lo) / (hi - lo) * (levels - 1)))
    return out


def sparkline(values: Sequence[float]) -> str:
    """One character per value, from ``▁`` (the minimum) to ``█`` (the maximum)."""
    return "".join(BLOCKS[level] for level in _levels(values, 8))


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "nan"


class MetricChart(Widget):
    """Sparklines of every metric of a run and a column plot of ``selected``.

    Args:
        series: ``{metric name: [(step, value), ...]}`` sorted by step.
    """

    selected: reactive[str | None] = reactive(None)

    def __init__(self, series: Mapping[str, Sequence[tuple[int, float]]] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: dict[str, list[tuple[int, float]]] = {k: list(v) for k, v in (series or {}).items()}

    def set_series(self, series: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        """Replace the plotted metrics (keeps the selection when that metric still exists)."""
        self.series = {k: list(v) for k, v in series.items()}
        if self.selected not in self.series:
            self.selected = self._default_selection()
        self.refresh(layout=True)

    def _default_selection(self) -> str | None:
        names = sorted(self.series)
        preferred = [n for n in names if n.startswith("valid.")] or names
        return preferred[0] if preferred else None

    def on_mount(self) -> None:
        if self.selected is None:
            self.selected = self._default_selection()

    class Selected(Message):
        """The chosen metric changed (the plot beside the list follows it)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def watch_selected(self, name: str | None) -> None:
        self.post_message(self.Selected(name))

    def cycle(self) -> None:
        """Select the next metric for the plot."""
        names = sorted(self.series)
        if not names:
            return
        idx = names.index(self.selected) + 1 if self.selected in names else 0
        self.selected = names[idx % len(names)]

    def render(self) -> Text:
        if not self.series:
            return Text("no per-epoch metrics logged", style="dim")
        text = Text()
        width = max(len(n) for n in self.series)
        for name in sorted(self.series):
            values = [v for _, v in self.series[name]]
            marker = "▶ " if name == self.selected else "  "
            text.append(marker + name.ljust(width) + " ", style="bold" if name == self.selected else "")
            text.append(sparkline(values), style="green")
            text.append(
                f"  min {_fmt(min(values))}  max {_fmt(max(values))}  last {_fmt(values[-1])}\n",
                style="dim",
            )
        return text
