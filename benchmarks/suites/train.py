"""``train``: six CTR models on ml100k-ctr, recforge against FuxiCTR, DeepCTR-Torch and RecBole.

For each model the libraries run alternately (recforge, fuxictr, deepctr, recbole, recforge,
...) for ``--rounds`` rounds, each run in its own process with the peers' settings. The
bars of issue 9 are checked in the comparison table's notes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchmarks.harness import (
    Result,
    alternate,
    combine_rounds,
    compare,
    comparison_table,
    echo,
    results_table,
    run_runner,
)
from benchmarks.suites import Options, SuiteOutput

HERE = Path(__file__).resolve().parents[1]
MODELS = {"lr": "LR", "fm": "FM", "deepfm": "DeepFM", "dcnv2": "DCNv2", "autoint": "AutoInt+", "xdeepfm": "xDeepFM"}
PEERS = {"fuxictr": "fuxictr_run.py", "deepctr-torch": "deepctr_run.py", "recbole": "recbole_run.py"}
#: issue 9's bars: recforge samples/s over the best peer's, per model
SPEEDUP_BARS = {"LR": 5.0, "FM": 5.0, "xDeepFM": 3.0, "DeepFM": 1.5, "DCNv2": 1.5, "AutoInt+": 1.5}
AUC_MARGIN = 0.003


def select_models(names: list[str] | None) -> list[str]:
    """Validated command-line model names (``--models lr,deepfm``), in the suite's order."""
    from recforge.core.errors import unknown_name

    if not names:
        return list(MODELS)
    for name in names:
        if name not in MODELS:
            raise unknown_name("model", name, MODELS, fix=f"use some of {', '.join(MODELS)}")
    return [m for m in MODELS if m in names]


def tasks_dir() -> str:
    return os.environ.get("RECFORGE_TASKS_DIR", str(HERE.parents[1] / "shared" / "tasks"))


def runner_command(python: str, script: Path, model: str, opts: Options) -> list[str]:
    cmd = [python, str(script), "--model", model, "--threads", str(opts.threads), "--tasks-dir", tasks_dir()]
    if opts.epochs is not None:
        cmd += ["--epochs", str(opts.epochs)]
    return cmd


def _job(python: str, script: Path, library: str, model: str, opts: Options):  # type: ignore[no-untyped-def]
    cmd = runner_command(python, script, model, opts)
    return lambda: run_runner("train", cmd, library=library, model=MODELS[model], threads=opts.threads,
                              env={"RECFORGE_TASKS_DIR": tasks_dir()})


def bar_notes(results: list[Result], judge_auc: bool = True) -> list[str]:
    """One line per model saying whether issue 9's speed and AUC bars are met in this run.

    ``judge_auc=False`` (fixed-epoch throughput runs, where no AUC is final) judges speed only.
    """
    notes = []
    for c in compare(results):
        bar = SPEEDUP_BARS.get(c.model)
        if c.speedup is None or bar is None:
            continue
        auc_ok = not judge_auc or (c.auc_delta is not None and c.auc_delta >= -AUC_MARGIN)
        verdict = "met" if c.speedup >= bar and auc_ok else "NOT met"
        delta = "n/a" if c.auc_delta is None else f"{c.auc_delta:+.4f}"
        auc_bar = f"(bar >= -{AUC_MARGIN})" if judge_auc else "(not judged: fixed epochs)"
        notes.append(f"{c.model}: {c.speedup:.2f}x {c.best_peer} (bar {bar}x), AUC {delta} {auc_bar} -> {verdict}")
        if c.model == "DeepFM" and c.wall_ratio is not None:
            notes.append(f"DeepFM end-to-end wall: {c.wall_ratio:.2f} of the best peer's (bar <= 0.5) -> "
                         f"{'met' if c.wall_ratio <= 0.5 else 'NOT met'}")
    return notes


def run(opts: Options) -> SuiteOutput:
    models = select_models(opts.models)
    libraries = [("recforge", sys.executable, HERE / "recforge_run.py")]
    if opts.peers_python:
        libraries += [(name, opts.peers_python, HERE / "peers" / script) for name, script in PEERS.items()]
    results: list[Result] = []
    for model in models:
        jobs = [(f"{MODELS[model]} {lib}", _job(py, script, lib, model, opts)) for lib, py, script in libraries]
        for rounds in alternate(jobs, opts.rounds, log=echo):
            row = combine_rounds(rounds)
            echo(f"  {row.library:14s} {row.model:9s} samples/s={row.samples_per_s} auc={row.auc} "
                 f"wall={row.wall_s} rss={row.peak_rss_mb} {row.error or ''}")
            results.append(row)
    tables = [results_table(results)]
    if opts.peers_python:
        tables.append(comparison_table(compare(results)))
    notes = bar_notes(results, judge_auc=opts.epochs is None)
    if opts.epochs is not None:
        notes.append(f"fixed {opts.epochs} epoch(s), no early stopping: a throughput check, AUCs not final")
    return SuiteOutput(results, tables, notes)
