"""Cold-item case study: does item text stand in for the id of items never seen in training?

Run ``python -m examples.coldstart`` (see ``--help``). For each split seed it generates a fresh
MovieLens-100k cold-item split (test: a random 20% of the items; valid: a random 10% of the
others, i.e. cold-valid), trains every variant over its grid of cold-start settings, keeps the
setting with the best cold-valid AUC, and reports that setting's test AUC (the test split is
read once per run, for reporting; nothing is chosen on it). Every run lands in the store under
the experiment ``case-coldstart``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).resolve().parent / "configs"
#: variant -> (config file, grid of overrides tried on cold-valid); ``text`` is the id-text
#: encoder with contrastive alignment, ``text-no-align`` the ablation without the alignment.
#: The two compared variants get the same number of id-dropout settings (docs/cold-start.md).
VARIANTS: dict[str, tuple[str, list[list[str]]]] = {
    "no-text": ("ml100k-coldstart-deepfm.yaml",
                [[f"model.encoders.item_id.params.id_dropout={p}"] for p in (0.0, 0.5, 0.7)]),
    "text": ("ml100k-coldstart-deepfm-text.yaml",
             [[f"model.encoders.item_id.params.id_dropout={p}"] for p in (0.3, 0.5, 0.7)]),
    "text-no-align": ("ml100k-coldstart-deepfm-text.yaml",
                      [["model.encoders.item_id.params.align=none",
                        f"model.encoders.item_id.params.id_dropout={p}"] for p in (0.3, 0.5)]),
}


def run_variant(name: str, seed: int, overrides: list[str], store: Any, grid: bool = True) -> dict[str, Any]:
    """Train every grid setting of ``name`` on split ``seed`` (or only the config's own setting
    when ``grid`` is false); the best by cold-valid AUC."""
    from recforge.core.config import load_config
    from recforge.core.experiment import run_experiment

    file, settings = VARIANTS[name]
    settings = settings if grid else [[]]
    best: dict[str, Any] | None = None
    for setting in settings:
        config = load_config(CONFIGS / file, [f"data.split.seed={seed}", f"train.seed={seed}",
                                              "experiment=case-coldstart", *setting, *overrides])
        result = run_experiment(config, store, name=f"{name} split={seed} {' '.join(setting)}", progress=False)
        row = {"setting": setting, "valid_auc": result.valid["auc"], "test_auc": result.test["auc"], "run": result.run_id}
        print(f"  {name} | split {seed} | {' '.join(setting)} | valid auc {row['valid_auc']:.4f} | run {result.run_id}",
              file=sys.stderr, flush=True)
        if best is None or row["valid_auc"] > best["valid_auc"]:
            best = row
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    from recforge.core.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="11,12,13", help="comma list of split (and training) seeds")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma list of variants")
    parser.add_argument("--no-grid", action="store_true",
                        help="train only the config's own setting (plus --set), e.g. one chosen on an earlier split's cold-valid")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override for every run")
    args = parser.parse_args(argv)
    store = Store.open()
    results: dict[str, list[dict[str, Any]]] = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            if name not in VARIANTS:
                from recforge.core.errors import unknown_name

                raise unknown_name("variant", name, VARIANTS, fix=f"use some of {', '.join(VARIANTS)}")
            results.setdefault(name, []).append({"seed": seed, **run_variant(name, seed, args.overrides, store, not args.no_grid)})
    print("| variant | cold-valid AUC | cold-item test AUC | chosen per split |\n|---|---:|---:|---|")
    for name, rows in results.items():
        valid, test = [r["valid_auc"] for r in rows], [r["test_auc"] for r in rows]
        std = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)
        print(f"| {name} | {statistics.fmean(valid):.4f} ± {std(valid):.4f} | {statistics.fmean(test):.4f} ± "
              f"{std(test):.4f} | {'; '.join(' '.join(r['setting'] or args.overrides).split('.')[-1] for r in rows)} |")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    from examples.ecommerce.harness import run_cli

    run_cli(main)
