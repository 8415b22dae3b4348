"""Learning-curve PNGs of a run: one chart per metric base name, epochs on the x axis.

``train.loss`` gets its own chart; ``valid.auc`` and ``test.auc`` share one (the test value,
read once after training, shows as a single marker). Used by ``runs show --plot`` and
``analyze --plot``; matplotlib is imported only when a plot is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def _groups(series: Mapping[str, Sequence[tuple[int, float]]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for key in sorted(series):
        if series[key]:
            groups.setdefault(key.split(".", 1)[-1], []).append(key)
    return groups


def learning_curves(series: Mapping[str, Sequence[tuple[int, float]]], directory: str | Path,
                    title: str = "") -> list[Path]:
    """Write ``curve_<metric>.png`` per metric into ``directory``; the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, keys in _groups(series).items():
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for key in keys:
            steps = [s for s, _ in series[key]]
            values = [v for _, v in series[key]]
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(f"{title} {name}".strip())
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        safe = "".join(c if c.isalnum() else "_" for c in name)
        path = out / f"curve_{safe}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
