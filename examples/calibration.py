"""Calibration case study: why does temperature scaling not halve DeepFM's test ECE on ml100k-ctr?

Run ``python -m examples.calibration`` (see ``--help``). For each seed it trains
``examples/configs/ml100k-ctr-deepfm.yaml`` unchanged (no store; nothing recorded), takes the
raw logits (before any calibration) on valid and test, and fits every calibrator of
:mod:`recforge.core.calibration` on valid only. Reported per calibrator:

* test ECE and AUC (the test split is read once per seed, after training, for reporting);
* valid ECE in-sample (fitted and measured on all of valid) and held out (fitted on one random
  half of valid, measured on the other, both ways, averaged): if the held-out figure matches
  test, valid and test are alike and the residual is the calibrator's, not a shift;
* the sampling floor of ECE: the mean ECE of the calibrated probabilities against labels drawn
  from those very probabilities (a perfectly calibrated model's ECE on that many rows), and
  the bootstrap std of the test ECE (rows resampled).

ECE is the project's metric (:func:`~recforge.core.calibration.expected_calibration_error`:
15 equal-width probability bins, row-weighted mean of |mean label - mean probability|),
unchanged here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

CONFIG = Path(__file__).resolve().parent / "configs" / "ml100k-ctr-deepfm.yaml"
DRAWS = 200
#: diagnostic only (not a ``train.calibrate`` option): the temperature with the lowest ECE on the fit rows
#: (grid of 1 / T), the best any temperature can do by the reported metric itself
BY_ECE = "temperature-by-ece"


def split_logits(config_path: Path, seed: int, overrides: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train the config at ``seed``; ``split -> (raw logits, labels)`` for valid and test."""
    from recforge.core.calibration import calibration_of, raw_logits
    from recforge.core.config import load_config
    from recforge.core.data import prepare_data
    from recforge.core.data.interactions import column
    from recforge.core.evaluation import predict_table
    from recforge.core.experiment import train_on

    config = load_config(config_path, [f"train.seed={seed}", "train.calibrate=none", *overrides])
    prepared = prepare_data(config.data_section())
    with tempfile.TemporaryDirectory() as run_dir:
        model = train_on(config, prepared, Path(run_dir)).model
    calibration_of(model).set(1.0, 0.0)
    out = {}
    with torch.no_grad():
        for name in ("valid", "test"):
            table = prepared.splits[name]
            logits = raw_logits(model, lambda t=table: predict_table(model, t))
            out[name] = (logits.double().numpy(), column(table, prepared.label).double().numpy())
    return out


def cached_logits(cache: Path | None, config_path: Path, seed: int,
                  overrides: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`split_logits`, read from / written to ``cache`` (keyed by config, seed and overrides)."""
    if cache is None:
        return split_logits(config_path, seed, overrides)
    key = "_".join([config_path.stem, str(seed), *(o.replace("/", "-") for o in overrides)])
    file = cache / f"{key}.npz"
    if not file.exists():
        cache.mkdir(parents=True, exist_ok=True)
        split = split_logits(config_path, seed, overrides)
        np.savez(file, **{f"{name}_{part}": arrays[i] for name, arrays in split.items() for i, part in enumerate(("x", "y"))})
    saved = np.load(file)
    return {name: (saved[f"{name}_x"], saved[f"{name}_y"]) for name in ("valid", "test")}


def sampling_floor(probs: np.ndarray, rng: np.random.Generator, draws: int = DRAWS) -> float:
    """Mean ECE of ``probs`` against labels drawn from ``probs``: a calibrated model's ECE on this many rows."""
    from recforge.core.calibration import expected_calibration_error

    return float(np.mean([expected_calibration_error(rng.random(len(probs)) < probs, probs) for _ in range(draws)]))


def bootstrap_std(labels: np.ndarray, probs: np.ndarray, rng: np.random.Generator, draws: int = DRAWS) -> float:
    """Std of ECE over row bootstraps of one split."""
    from recforge.core.calibration import expected_calibration_error

    values = []
    for _ in range(draws):
        rows = rng.integers(0, len(probs), len(probs))
        values.append(expected_calibration_error(labels[rows], probs[rows]))
    return float(np.std(values))


def fit(logits: np.ndarray, labels: np.ndarray, method: str) -> Any:
    """``method`` fitted on ``(logits, labels)``: a ``train.calibrate`` method or :data:`BY_ECE`."""
    from recforge.core.calibration import (
        FittedCalibration,
        expected_calibration_error,
        fit_calibrator,
    )

    if method != BY_ECE:
        return fit_calibrator(torch.from_numpy(logits), torch.from_numpy(labels), method)
    grid = [FittedCalibration("temperature", float(scale)) for scale in np.linspace(0.4, 1.2, 161)]
    return min(grid, key=lambda f: expected_calibration_error(labels, f.probs(logits)))


def diagnose(split: dict[str, tuple[np.ndarray, np.ndarray]], methods: list[str], seed: int) -> dict[str, dict[str, float]]:
    """Every calibrator's valid (in-sample, held-out) and test figures on one trained model."""
    from recforge.core.calibration import expected_calibration_error
    from recforge.core.metrics import auc_score, logloss_score

    rng = np.random.default_rng(seed)
    (xv, yv), (xt, yt) = split["valid"], split["test"]
    half = rng.permutation(len(xv)) < len(xv) // 2
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        fitted = fit(xv, yv, method)
        pv, pt = fitted.probs(xv), fitted.probs(xt)
        held = []
        for fit_rows in (half, ~half):
            part = fit(xv[fit_rows], yv[fit_rows], method)
            held.append(expected_calibration_error(yv[~fit_rows], part.probs(xv[~fit_rows])))
        out[method] = {
            "valid_ece_in_sample": expected_calibration_error(yv, pv),
            "valid_ece_held_out": float(np.mean(held)),
            "test_ece": expected_calibration_error(yt, pt),
            "test_logloss": logloss_score(yt, pt),
            "test_auc": auc_score(yt, pt),
            "test_ece_floor": sampling_floor(pt, rng),
            "test_ece_bootstrap_std": bootstrap_std(yt, pt, rng),
            "valid_half_ece_floor": sampling_floor(pv[half], rng),
            **{f"param.{k}": v for k, v in fitted.describe().items()},
        }
        print(f"  seed {seed} | {method:>12} | valid ECE in-sample {out[method]['valid_ece_in_sample']:.4f} "
              f"held-out {out[method]['valid_ece_held_out']:.4f} | test ECE {out[method]['test_ece']:.4f} "
              f"(floor {out[method]['test_ece_floor']:.4f}) AUC {out[method]['test_auc']:.4f}", file=sys.stderr, flush=True)
    return out


def reliability(split: dict[str, tuple[np.ndarray, np.ndarray]], method: str, seed: int) -> list[dict[str, float]]:
    """The reliability table on valid: per ECE bin of the uncalibrated probability, rows, mean
    probability before and after ``method`` (fitted on valid) and the mean label. Shows *where*
    the calibration error sits, which decides whether one temperature can remove it."""
    from recforge.core.calibration import ECE_BINS

    logits, labels = split["valid"]
    before, after = 1.0 / (1.0 + np.exp(-logits)), fit(logits, labels, method).probs(logits)
    which = np.minimum((before * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    rows = [{"bin": b, "rows": int((which == b).sum()), "p_before": float(before[which == b].mean()),
             "p_after": float(after[which == b].mean()), "label": float(labels[which == b].mean())}
            for b in range(ECE_BINS) if (which == b).any()]
    print(f"reliability on valid, seed {seed} (bins of the uncalibrated probability; after = {method}):\n"
          "| bin | rows | mean p before | mean p after | mean label | gap before | gap after |\n|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['bin']} | {r['rows']} | {r['p_before']:.3f} | {r['p_after']:.3f} | {r['label']:.3f} | "
              f"{r['label'] - r['p_before']:+.3f} | {r['label'] - r['p_after']:+.3f} |")
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from recforge.core.calibration import METHODS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="a ctr config (default: ml100k-ctr DeepFM)")
    parser.add_argument("--seeds", default="2024,2025,2026", help="comma list of training seeds")
    parser.add_argument("--methods", default=",".join([*METHODS, BY_ECE]),
                        help=f"comma list of train.calibrate methods (and {BY_ECE})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder keeping each seed's raw logits, so calibrators can be compared without retraining")
    parser.add_argument("--reliability", metavar="METHOD", default=None,
                        help="also print the first seed's valid reliability table before and after METHOD")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    per_seed = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = cached_logits(args.cache, args.config, seed, args.overrides)
        if args.reliability and not per_seed:
            reliability(split, args.reliability, seed)
        per_seed[seed] = diagnose(split, methods, seed)
    keys = ["valid_ece_in_sample", "valid_ece_held_out", "valid_half_ece_floor", "test_ece", "test_ece_floor",
            "test_ece_bootstrap_std", "test_logloss", "test_auc", "param.scale"]
    print("| calibrator | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
    for method in methods:
        cells = []
        for key in keys:
            values = [per_seed[s][method][key] for s in per_seed]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.fmean(values):.4f} ± {std:.4f}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    print(json.dumps(per_seed))
    return per_seed


if __name__ == "__main__":
    from examples.ecommerce.harness import run_cli

    run_cli(main)
