"""News case study: click prediction from the user's clicked-title history and the candidate
title, id-only vs ``text-hash`` vs ``text-lm``, with the attention-fusion interaction.

Every variant is a YAML file in ``examples/news/configs`` (``<dataset>-<variant>.yaml``) that
``recforge train`` takes as is once the news recipes are installed (``recforge plugins install
-e examples/plugins/recforge-news-titles``); this script registers them itself, runs the
variants over seeds (one progress line per epoch and per run) and tabulates the test metrics.

Run ``python -m examples.news.run`` (bing-news, 3 seeds). With the official MIND-small or
MIND-demo release unpacked under ``$RECFORGE_DATA_DIR/<folder>`` (``news.tsv`` +
``behaviors.tsv``), ``python -m examples.news.run --dataset mind --folder MINDsmall_train``
runs the same comparison on it (a temporal 8:1:1 split of its impressions).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `examples` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.ecommerce.harness import Table, Variant, base_parser, pick, report, run_cli, run_table

METRICS = ["auc", "gauc", "mrr", "ndcg@5", "ndcg@10"]
CONFIGS = Path(__file__).resolve().parent / "configs"
#: variants: ``configs/<dataset>-<name>.yaml``; mrr / ndcg@K are per-user ranking of the click
#: predictions (grouped.py), the rest comes from the trainer
VARIANTS = ["id-only", "text-hash", "text-lm"]
DATASETS = ["bing-news", "mind"]


def variant(dataset: str, name: str, overrides: list[str]) -> Variant:
    """The YAML config ``configs/<dataset>-<name>.yaml`` (what ``recforge train`` takes), with overrides."""
    from recforge.core.config import load_config

    return Variant(name, load_config(CONFIGS / f"{dataset}-{name}.yaml", overrides))


def grouped(result: Any, config: dict[str, Any], store: Any) -> dict[str, float]:
    """Per-user MRR / nDCG@5/10 of the run's test predictions (logged to the run)."""
    from examples.news.grouped import run_grouped_metrics

    return run_grouped_metrics(result.run_id, result.model_dir, config, store)


def main(argv: list[str] | None = None) -> list[Table]:
    from examples.news.recipes import ensure_registered

    parser = base_parser(__doc__.splitlines()[0], VARIANTS)
    parser.add_argument("--dataset", choices=DATASETS, default="bing-news")
    parser.add_argument("--folder", default="MINDsmall_train", help="mind: dataset folder under RECFORGE_DATA_DIR")
    args = parser.parse_args(argv)
    ensure_registered()
    overrides = [f"data.params.folder={args.folder}"] if args.dataset == "mind" else []
    variants = {name: variant(args.dataset, name, overrides) for name in VARIANTS}
    label = args.dataset if args.dataset == "bing-news" else f"MIND ({args.folder})"
    table = run_table(f"News click prediction, {label}: attention-fusion + CTR head", f"case-news-{args.dataset}",
                      pick(variants, args.variants), METRICS, [args.first_seed + i for i in range(args.seeds)],
                      args.overrides, device=args.device, extra=grouped)
    report([table], args.json)
    return [table]


if __name__ == "__main__":
    run_cli(main)
