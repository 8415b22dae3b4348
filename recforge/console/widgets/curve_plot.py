"""A learning curve drawn as a real plot (plotext through textual-plotext), epochs on x.

The chosen metric is drawn with its siblings of the same name (``valid.auc`` with
``train.auc`` when logged); a ``test.*`` value (read once after training) shows as a single
point at its epoch. Lines use braille dots, so a curve of a few epochs is still smooth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from textual_plotext import PlotextPlot


def curve_keys(series: Mapping[str, Sequence[tuple[int, float]]], selected: str | None) -> list[str]:
    """The keys drawn for ``selected``: every split of the same metric, valid first."""
    if not selected:
        return []
    base = selected.split(".", 1)[-1]
    order = {"valid": 0, "train": 1, "test": 2}
    keys = [k for k in series if k.split(".", 1)[-1] == base and series[k]]
    return sorted(keys, key=lambda k: (order.get(k.split(".", 1)[0], 3), k))


class CurvePlot(PlotextPlot):
    """Plot of one metric by epoch; :meth:`show` replaces what is drawn."""

    def __init__(self, series: Mapping[str, Sequence[tuple[int, float]]] | None = None,
                 selected: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series = {k: list(v) for k, v in (series or {}).items()}
        self.selected = selected

    def on_mount(self) -> None:
        self.replot()

    def show(self, series: Mapping[str, Sequence[tuple[int, float]]], selected: str | None) -> None:
        self.series = {k: list(v) for k, v in series.items()}
        self.selected = selected
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        keys = curve_keys(self.series, self.selected)
        epochs: set[int] = set()
        for key in keys:
            points = [(s, v) for s, v in self.series[key] if math.isfinite(v)]
            if not points:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            epochs.update(xs)
            if len(points) == 1:
                plt.scatter(xs, ys, label=key, marker="●")
            else:
                plt.plot(xs, ys, label=key, marker="braille")
        plt.title(f"{self.selected} by epoch" if keys else "no per-epoch metrics yet")
        plt.xlabel("epoch")
        if epochs and len(epochs) <= 12:
            plt.xticks(sorted(epochs))
        self.refresh()
