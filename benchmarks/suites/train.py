"""``train``: six CTR models on ml100k-ctr, recforge against FuxiCTR, DeepCTR-Torch and RecBole.

For each model the libraries run alternately (recforge, fuxictr, deepctr, recbole, recforge,
...) for ``--rounds`` rounds, each run in its own process with the peers' settings. The
bars of issue 9 are checked in the comparison table's notes.

With ``--seeds N`` (issue 18) every library trains each model on N seeds (2024, 2025, ...;
the libraries alternate within each seed), all under the same ``--max-epochs`` cap with
their own early stopping, and the report compares 3-seed mean test AUCs: recforge (in its
config's precision, and in float32 too with ``--also-fp32``) against the most accurate peer,
with issue 18's bar (within 0.002 of it, or above). Every finished run is echoed to stderr as
one JSON line, so a long run that is cut short still leaves its figures in the log.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks.harness import (
    AccuracyComparison,
    Result,
    accuracy_table,
    alternate,
    combine_rounds,
    compare,
    compare_accuracy,
    comparison_table,
    echo,
    results_table,
    run_runner,
    seeds_table,
    summarize_seeds,
)
from benchmarks.suites import Options, SuiteOutput

HERE = Path(__file__).resolve().parents[1]
MODELS = {"lr": "LR", "fm": "FM", "deepfm": "DeepFM", "dcnv2": "DCNv2", "autoint": "AutoInt+", "xdeepfm": "xDeepFM"}
PEERS = {"fuxictr": "fuxictr_run.py", "deepctr-torch": "deepctr_run.py", "recbole": "recbole_run.py"}
#: issue 9's bars: recforge samples/s over the best peer's, per model
SPEEDUP_BARS = {"LR": 5.0, "FM": 5.0, "xDeepFM": 3.0, "DeepFM": 1.5, "DCNv2": 1.5, "AutoInt+": 1.5}
AUC_MARGIN = 0.003
#: issue 18's bar: recforge's 3-seed mean test AUC at most this far below the most accurate peer's
SEED_AUC_MARGIN = 0.002
#: the first seed; seed i of ``--seeds N`` is FIRST_SEED + i for every library
FIRST_SEED = 2024


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


def runner_command(python: str, script: Path, model: str, opts: Options, *, seed: int | None = None,
                   recforge_args: list[str] | None = None) -> list[str]:
    """One runner's command line; ``recforge_args`` (config, precision) only go to recforge's runner."""
    cmd = [python, str(script), "--model", model, "--threads", str(opts.threads), "--tasks-dir", tasks_dir()]
    if opts.epochs is not None:
        cmd += ["--epochs", str(opts.epochs)]
    if opts.max_epochs is not None:
        cmd += ["--max-epochs", str(opts.max_epochs)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return cmd + (recforge_args or [])


def recforge_config(model: str, opts: Options) -> Path:
    """The config recforge trains for ``model``: ``--config MODEL=PATH`` or the example config."""
    from recforge.core.errors import ConfigError

    path = Path(opts.configs[model]) if model in opts.configs else HERE.parent / "examples" / "configs" / f"ml100k-ctr-{model}.yaml"
    if not path.is_file():
        raise ConfigError(f"recforge config for {model} not found: {path}", fix="pass --config MODEL=PATH to an existing file")
    return path


def config_autocasts(path: Path) -> bool:
    """Whether a config trains with bf16 autocast on this machine (``train.amp`` true, or auto here)."""
    import torch

    from recforge.core.config import load_config
    from recforge.core.train import native_bf16

    amp = load_config(path, []).train.amp
    return native_bf16(torch.device("cpu")) if amp == "auto" else bool(amp)


def recforge_variants(model: str, opts: Options) -> list[tuple[str, list[str]]]:
    """(label, runner args) for recforge on ``model``: its config as is, and float32 where asked and different."""
    path = recforge_config(model, opts)
    variants = [("recforge", ["--config", str(path)])]
    if opts.also_fp32 and config_autocasts(path):
        variants.append(("recforge fp32", ["--config", str(path), "--precision", "fp32"]))
    return variants


def _job(python: str, script: Path, library: str, model: str, opts: Options, *, seed: int | None = None,
         recforge_args: list[str] | None = None):  # type: ignore[no-untyped-def]
    cmd = runner_command(python, script, model, opts, seed=seed, recforge_args=recforge_args)

    def job() -> Result:
        result = run_runner("train", cmd, library=library, model=MODELS[model], threads=opts.threads,
                            env={"RECFORGE_TASKS_DIR": tasks_dir()})
        if seed is not None:
            result.extra.setdefault("seed", seed)
            echo("result " + json.dumps(result.to_dict()))
        return result

    return job


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


def accuracy_notes(rows: list[AccuracyComparison], seeds: int) -> list[str]:
    """One line per model and recforge precision: issue 18's bar on the mean test AUC."""
    notes = []
    for c in rows:
        if c.auc_delta is None:
            continue
        verdict = "met" if c.auc_delta >= -SEED_AUC_MARGIN else "NOT met"
        notes.append(f"{c.model} ({c.precision}): recforge {c.recforge_auc:.4f} vs {c.best_peer} {c.peer_auc:.4f}, "
                     f"{seeds}-seed mean test AUC {c.auc_delta:+.4f} (bar >= -{SEED_AUC_MARGIN}) -> {verdict}")
    return notes


def select_peers(names: list[str] | None) -> dict[str, str]:
    """The peers to run (``--peers fuxictr,recbole``), validated, in the suite's order."""
    from recforge.core.errors import unknown_name

    for name in names or []:
        if name not in PEERS:
            raise unknown_name("peer", name, PEERS, fix=f"use some of {', '.join(PEERS)}")
    return {name: script for name, script in PEERS.items() if not names or name in names}


def runners(model: str, opts: Options) -> list[tuple[str, str, str, Path, list[str] | None]]:
    """(label, library, python, script, recforge args) of every runner of ``model``, in run order."""
    out: list[tuple[str, str, str, Path, list[str] | None]] = [
        (label, "recforge", sys.executable, HERE / "recforge_run.py", args) for label, args in recforge_variants(model, opts)]
    if opts.peers_python:
        out += [(name, name, opts.peers_python, HERE / "peers" / script, None)
                for name, script in select_peers(opts.peers).items()]
    return out


def run_seeds(opts: Options) -> SuiteOutput:
    """Every library on every model for ``opts.seeds`` seeds; mean ± std tables and issue 18's bar."""
    results: list[Result] = []
    for model in select_models(opts.models):
        libraries = runners(model, opts)
        for seed in range(FIRST_SEED, FIRST_SEED + opts.seeds):
            for label, library, python, script, args in libraries:
                echo(f"seed {seed}: {MODELS[model]} {label}")
                results.append(_job(python, script, library, model, opts, seed=seed, recforge_args=args)())
    summaries = summarize_seeds(results)
    comparisons = compare_accuracy(summaries)
    tables = [seeds_table(summaries)]
    if opts.peers_python:
        tables.append(accuracy_table(comparisons))
    cap = opts.max_epochs if opts.max_epochs is not None else "each library's default (recforge: the config's train.epochs)"
    notes = [(f"{opts.seeds} seeds ({', '.join(str(FIRST_SEED + i) for i in range(opts.seeds))}) per library; "
             f"epoch cap {cap} for every library, each with its own early stopping on valid AUC"),
             *accuracy_notes(comparisons, opts.seeds)]
    return SuiteOutput(results, tables, notes)


def run(opts: Options) -> SuiteOutput:
    if opts.seeds > 1:
        return run_seeds(opts)
    results: list[Result] = []
    for model in select_models(opts.models):
        jobs = [(f"{MODELS[model]} {label}", _job(python, script, library, model, opts, recforge_args=args))
                for label, library, python, script, args in runners(model, opts)]
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
