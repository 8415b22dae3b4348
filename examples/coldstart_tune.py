"""Cold-item case study, tuned: both variants searched on cold-valid with equal effort.

Run ``python -m examples.coldstart_tune`` (see ``--help``). For each split seed, ``recforge
tune`` searches the no-text DeepFM over ``examples/spaces/coldstart.yaml`` and its text twin
over ``examples/spaces/coldstart-text.yaml`` (the same keys plus the text's own) with the same
number of trials, each trial trained with early stopping on cold-valid AUC. The trial with the
best cold-valid AUC of each study is the variant's model on that split; its cold-item test AUC
(read once by the run, after training, for reporting) is what the lift is measured on. Nothing is
chosen on test. Progress: one line per finished trial on stderr (``recforge tune``'s own).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent
#: variant -> (config, search space); the text space holds every key of the no-text one
STUDIES: dict[str, tuple[Path, Path]] = {
    "no-text": (EXAMPLES / "configs" / "ml100k-coldstart-deepfm.yaml", EXAMPLES / "spaces" / "coldstart.yaml"),
    "text": (EXAMPLES / "configs" / "ml100k-coldstart-deepfm-text.yaml", EXAMPLES / "spaces" / "coldstart-text.yaml"),
}


def tune_split(variant: str, seed: int, trials: int, jobs: int, pruner: str) -> dict[str, Any]:
    """Run (or continue) the study of ``variant`` on split ``seed``; its best trial's figures."""
    from recforge.core.store import Store

    config, space = STUDIES[variant]
    command = [sys.executable, "-m", "recforge", "tune", str(config), "--space", str(space), "--trials", str(trials),
               "--jobs", str(jobs), "--seed", str(seed), "--pruner", pruner,
               "--study", f"coldstart-{variant}-split{seed}-{pruner}",
               "--set", "model.interaction={name: deepfm}", "--set", f"data.split.seed={seed}",
               "--set", f"train.seed={seed}", "--set", "train.threads=1",
               "--set", "experiment=case-coldstart-tuned", "--json"]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: recforge tune failed for {variant} on split {seed} (exit {done.returncode})")
    study = json.loads(done.stdout)
    best = study["best"]
    metrics = Store.open().reported_metrics(best["run_id"])
    counts = study["counts"]
    return {"seed": seed, "run": best["run_id"], "valid_auc": metrics["valid.auc"], "test_auc": metrics["test.auc"],
            "params": best["params"], "complete": counts["complete"], "pruned": counts["pruned"]}


def mean_std(values: list[float]) -> str:
    """``mean ± std`` over splits (std 0 for one split)."""
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.4f}"


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="11,12,13", help="comma list of split (and training) seeds")
    parser.add_argument("--trials", type=int, default=24, help="trials per variant and split (the same for both)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes per study (one thread each)")
    parser.add_argument("--pruner", choices=("median", "none"), default="none",
                        help="none (default): every trial trains to early stopping; median stops trials whose "
                             "per-epoch cold-valid AUC trails (faster, but kills slow starters)")
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in STUDIES}
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in STUDIES:
            row = tune_split(name, seed, args.trials, args.jobs, args.pruner)
            results[name].append(row)
            print(f"{name} split {seed}: best cold-valid AUC {row['valid_auc']:.4f} (run {row['run']}, "
                  f"{row['complete']} complete / {row['pruned']} pruned), cold-item test AUC {row['test_auc']:.4f}",
                  file=sys.stderr, flush=True)
    print("| variant | cold-valid AUC (best trial) | cold-item test AUC |\n|---|---:|---:|")
    for name, rows in results.items():
        print(f"| {name} | {mean_std([r['valid_auc'] for r in rows])} | {mean_std([r['test_auc'] for r in rows])} |")
    lifts = [t["test_auc"] - n["test_auc"] for t, n in zip(results["text"], results["no-text"], strict=True)]
    print(f"lift per split: {', '.join(f'{v:+.4f}' for v in lifts)}; mean {mean_std(lifts)}")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    from examples.ecommerce.harness import run_cli

    run_cli(main)
