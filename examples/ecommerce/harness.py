"""Shared case-study harness: run named config variants over seeds through ``run_experiment``
and summarise the test metrics as a markdown table (mean ± std over seeds).

Every run goes through :func:`recforge.core.experiment.run_experiment`, the service behind
``recforge train``, so each lands in the run store (and the console) under the case's
experiment name, with its config, seed, metrics and saved model.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from recforge.core.config import apply_overrides, validate_config
from recforge.core.config_schema import ExperimentConfig


@dataclass
class Variant:
    """One row of a case-study table: a name and the full experiment config it runs."""

    name: str
    config: dict[str, Any] | ExperimentConfig


@dataclass
class Table:
    """Per-variant test metrics of every seed, and the table's metric columns."""

    title: str
    metrics: list[str]
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    run_ids: dict[str, list[int]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        """variant -> metric -> (mean, std over seeds; std 0 for one seed)."""
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for name, runs in self.results.items():
            out[name] = {}
            for m in self.metrics:
                values = [r[m] for r in runs if m in r]
                if values:
                    std = statistics.stdev(values) if len(values) > 1 else 0.0
                    out[name][m] = (statistics.fmean(values), std)
        return out

    def markdown(self) -> str:
        """The table as markdown: one row per variant, ``mean ± std`` per metric."""
        seeds = max((len(r) for r in self.results.values()), default=0)
        lines = [f"**{self.title}** (test split, {seeds} seed{'s' if seeds != 1 else ''}, mean ± std)", "",
                 "| variant | " + " | ".join(self.metrics) + " |",
                 "|---|" + "---:|" * len(self.metrics)]
        for name, row in self.summary().items():
            cells = [f"{row[m][0]:.4f} ± {row[m][1]:.4f}" if m in row else "–" for m in self.metrics]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def seeded(config: dict[str, Any] | ExperimentConfig, seed: int, experiment: str,
           overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``config`` (as a mapping) with the seed, experiment name and ``--set`` overrides applied."""
    config = config.to_dict() if isinstance(config, ExperimentConfig) else copy.deepcopy(config)
    config["experiment"] = experiment
    config.setdefault("train", {})["seed"] = seed
    config = apply_overrides(config, list(overrides))
    validate_config(config)
    return config


def run_table(title: str, experiment: str, variants: Sequence[Variant], metrics: list[str], seeds: Sequence[int],
              overrides: Sequence[str] = (), store: Any = None, device: str = "cpu",
              extra: Callable[[Any, dict[str, Any], Any], dict[str, float]] | None = None) -> Table:
    """Run every variant for every seed through ``run_experiment`` and collect test metrics.

    ``extra(result, config, store)`` adds metrics the trainer does not compute (e.g. per-impression
    ranking of click predictions); it should log them to the run itself.
    """
    from recforge.core.experiment import run_experiment
    from recforge.core.store import Store

    store = store if store is not None else Store.open()
    table = Table(title, metrics)
    for variant in variants:
        for seed in seeds:
            config = seeded(variant.config, seed, experiment, overrides)
            result = run_experiment(config, store, name=f"{variant.name} seed={seed}", progress=True, device=device,
                                    on_event=epoch_printer(f"{experiment} | {variant.name} | seed {seed}"))
            test = {**result.test, **(extra(result, config, store) if extra is not None else {})}
            table.results.setdefault(variant.name, []).append(test)
            table.run_ids.setdefault(variant.name, []).append(result.run_id)
            logging.getLogger(__name__).info("%s seed %d: %s", variant.name, seed, result.test)
            print(f"  {experiment} | {variant.name} | seed {seed} | run {result.run_id} | "
                  + ", ".join(f"{m}={test.get(m, float('nan')):.4f}" for m in metrics), file=sys.stderr, flush=True)
    return table


def epoch_printer(prefix: str) -> Callable[[Any], None]:
    """A trainer callback printing one line per epoch (loss, validation metrics, best epoch) to stderr."""

    def show(event: Any) -> None:
        if event.kind != "epoch":
            return
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in (event.metrics or {}).items() if k.startswith("valid."))
        print(f"  {prefix} | epoch {event.epoch}: loss {event.loss if event.loss is not None else float('nan'):.4f}"
              f"{', ' + metrics if metrics else ''} (best epoch {event.best_epoch})", file=sys.stderr, flush=True)

    return show


def environment() -> str:
    """Machine and library versions, for the results page."""
    import torch
    import transformers

    import recforge

    return (f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
            f"recforge {getattr(recforge, '__version__', '?')}, {platform.machine()} {platform.system()}, "
            f"torch threads {torch.get_num_threads()}")


def base_parser(description: str, default_variants: Sequence[str]) -> argparse.ArgumentParser:
    """Command-line options every case shares: seeds, variants, overrides, JSON output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (--first-seed, +1, ...)")
    parser.add_argument("--first-seed", type=int, default=2024,
                        help="first seed (run one seed per process in parallel: --seeds 1 --first-seed 2025)")
    parser.add_argument("--variants", default=",".join(default_variants),
                        help=f"comma list of variants (default: {','.join(default_variants)})")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="config override applied to every run, e.g. train.epochs=1")
    parser.add_argument("--json", action="store_true", help="also print the summaries as one JSON document")
    parser.add_argument("--device", default="cpu", help="torch device")
    return parser


def pick(variants: dict[str, Variant], names: str) -> list[Variant]:
    """Variants by a comma list of names; unknown names fail with the known ones."""
    from recforge.core.errors import unknown_name

    chosen = [n.strip() for n in names.split(",") if n.strip()]
    for name in chosen:
        if name not in variants:
            raise unknown_name("variant", name, variants, fix=f"use some of {', '.join(variants)}")
    return [variants[n] for n in chosen]


def report(tables: Sequence[Table], as_json: bool) -> None:
    """Print the markdown tables (and optionally the summaries as JSON, last on stdout)."""
    print(f"_{environment()}_\n")
    for table in tables:
        print(table.markdown() + "\n")
    if as_json:
        print(json.dumps({t.title: {v: {m: list(ms) for m, ms in row.items()} for v, row in t.summary().items()}
                          for t in tables}))


def run_cli(main: Callable[[], Any]) -> None:
    """Run a case-study ``main`` with the CLI's one-line error contract."""
    from recforge.core.errors import RecforgeError

    try:
        main()
    except RecforgeError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
