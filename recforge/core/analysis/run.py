"""Analyse a stored run: load its saved model, re-prepare its data, store the report.

The CLI (``recforge analyze``) and the console call :func:`analyze_run`; both only render.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from recforge.core.analysis.report import analyze, save_report
from recforge.core.errors import ArtifactError, ConfigError


def model_folder(store: Any, run_id: int) -> Path:
    """The run's saved-model folder: ``<run dir>/model`` under this store's home, else its newest
    ``model`` artifact.

    The run folder comes first: artifact rows hold absolute paths, which point into the old
    place once a RECFORGE_HOME is copied or moved, and loading from there would bypass (and
    never check) the files of this home.
    """
    run = store.get_run(run_id)
    here = Path(store.run_dir(run_id)) / "model"
    if here.is_dir():
        return here
    models = [a for a in getattr(run, "artifacts", []) if a.kind == "model" and Path(a.path).is_dir()]
    if models:
        return Path(sorted(models, key=lambda a: a.id)[-1].path)
    raise ArtifactError(f"run {run_id} has no saved model (status {getattr(run, 'status', '?')})",
                        fix="train it to completion with `recforge train`, or pick another run from `recforge runs list`")


def analyze_run(
    store: Any,
    run_id: int,
    split: str = "valid",
    *,
    plot_dir: str | Path | None = None,
    device: str = "cpu",
    **options: Any,
) -> tuple[dict[str, Any], list[Path]]:
    """Analyse run ``run_id`` on ``split``; save ``analysis.json`` + PNGs as run artifacts.

    Args:
        store: an open :class:`~recforge.core.store.Store`.
        run_id: the run to analyse.
        split: data split (``valid`` by default).
        plot_dir: also copy the JSON and PNGs here.
        device: device to run the model on.
        **options: passed to :func:`~recforge.core.analysis.report.analyze` (``repeats``,
            ``sample``, ``max_rows``, ``metric``, ``seed``, ``batch_size``).

    Returns:
        The report (with ``run_id``) and the written files in the run's artifact folder.
    """
    from recforge.core.data import prepare_data
    from recforge.core.saved_model import load_model

    loaded = load_model(model_folder(store, run_id), store=store, device=device)
    prepared = prepare_data(loaded.config["data"], store=store)
    if split not in prepared.splits:
        raise ConfigError(f"the data of run {run_id} has no '{split}' split",
                          fix=f"use one of {', '.join(prepared.splits)}")
    report = analyze(loaded.model, prepared, split, **options)
    report = {"run_id": int(run_id), **report}
    out = Path(store.run_dir(run_id)) / f"analysis-{split}"
    written = save_report(report, out)
    for path in written:
        store.log_artifact(run_id, kind="analysis", path=path)
    if plot_dir is not None:
        target = Path(plot_dir)
        target.mkdir(parents=True, exist_ok=True)
        for path in written:
            shutil.copy2(path, target / path.name)
    return report, written
