"""PNG charts of an analysis report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def heatmap(matrix: Sequence[Sequence[float | None]], labels: Sequence[str], title: str, path: Path,
            colorbar: str = "", diverging: bool = False) -> Path:
    """Save an annotated ``[F, F]`` heatmap; ``None`` cells (the diagonal) are left blank."""
    mat = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    size = max(4.0, 0.55 * len(labels) + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    finite = mat[np.isfinite(mat)]
    if diverging:
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        image = ax.imshow(mat, cmap="RdBu_r", vmin=-bound or -1, vmax=bound or 1)
    else:
        image = ax.imshow(mat, cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    if len(labels) <= 16:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if np.isfinite(mat[i, j]):
                    ax.text(j, i, f"{mat[i, j]:.3f}", ha="center", va="center", fontsize=7, color="black",
                            bbox={"facecolor": "white", "alpha": 0.5, "lw": 0, "pad": 0.5})
    fig.colorbar(image, ax=ax, label=colorbar)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def bars(values: Mapping[str, Mapping[str, Any]], title: str, xlabel: str, path: Path,
         key: str = "mean") -> Path:
    """Save horizontal bars of ``values[name][key]``, with ``low``/``high`` error bars when given."""
    names = list(values)[::-1]
    means = np.array([float(values[n][key]) for n in names])
    has_ci = all("low" in values[n] and "high" in values[n] for n in names)
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.38 * len(names) + 1.2)))
    if has_ci:
        low = means - np.array([float(values[n]["low"]) for n in names])
        high = np.array([float(values[n]["high"]) for n in names]) - means
        ax.barh(names, means, xerr=np.vstack([low, high]), capsize=3, color="#4C72B0")
    else:
        ax.barh(names, means, color="#55A868")
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
