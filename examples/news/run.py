"""News case study: click prediction from the user's clicked-title history and the candidate
title, id-only vs ``text-hash`` vs ``text-lm``, with the attention-fusion interaction.

Run ``python examples/news/run.py`` (bing-news, 3 seeds). With the official MIND-small or
MIND-demo release unpacked under ``$RECFORGE_DATA_DIR/<folder>`` (``news.tsv`` +
``behaviors.tsv``), ``python examples/news/run.py --dataset mind --folder MINDsmall_train``
runs the same comparison on it (a temporal 8:1:1 split of its impressions).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `examples` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.ecommerce.harness import Table, Variant, base_parser, pick, report, run_cli, run_table

METRICS = ["auc", "gauc", "mrr", "ndcg@5", "ndcg@10"]
#: computed by the trainer; mrr / ndcg@K are per-user ranking of the click predictions (grouped.py)
TRAINER_METRICS = ["auc", "gauc", "logloss"]
LM = {"pooling": "mean", "max_length": 128, "dropout": 0.1, "batch_size": 128}
TEXT_ENCODERS: dict[str, dict[str, Any] | None] = {
    "id-only": None,
    "text-hash": {"name": "text-hash", "params": {"buckets": 50_000}},
    "text-lm": {"name": "text-lm", "params": dict(LM)},
}


def data_section(dataset: str, folder: str) -> dict[str, Any]:
    """``bing-news-titles`` (its own train/test files) or ``mind-titles`` (temporal split)."""
    if dataset == "mind":
        return {"recipe": "mind-titles", "params": {"folder": folder, "max_history": 50},
                "split": {"method": "temporal", "ratios": [0.8, 0.1, 0.1]}}
    return {"recipe": "bing-news-titles", "params": {"max_history": 50}}


def news_config(data: dict[str, Any], item_id: str, text: dict[str, Any] | None) -> dict[str, Any]:
    """Candidate (id + title) and user (id + clicked history: ids with DIN attention to the
    candidate, plus titles as text) fused by attention-fusion, logistic head."""
    fields = ["user_id", item_id, "history"]
    encoders: dict[str, Any] = {"history": {"name": "sequence", "params": {"pooling": "attention", "target": item_id}}}
    if text is not None:
        fields += ["title", "history_titles"]
        encoders.update({"title": copy.deepcopy(text), "history_titles": copy.deepcopy(text)})
    return {
        "data": copy.deepcopy(data),
        "model": {"embedding_dim": 32, "fields": fields, "encoders": encoders,
                  "interaction": {"name": "attention-fusion", "params": {"hidden_units": [64], "dropout": 0.1}},
                  "ranker": "ctr"},
        "train": {"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 20, "patience": 2,
                  "monitor": "valid.auc", "threads": 1},
        "eval": {"metrics": list(TRAINER_METRICS)},
    }


def grouped(result: Any, config: dict[str, Any], store: Any) -> dict[str, float]:
    """Per-user MRR / nDCG@5/10 of the run's test predictions (logged to the run)."""
    from examples.news.grouped import run_grouped_metrics

    return run_grouped_metrics(result.run_id, result.model_dir, config, store)


def main(argv: list[str] | None = None) -> list[Table]:
    from examples.news.recipes import ensure_registered

    parser = base_parser(__doc__.splitlines()[0], list(TEXT_ENCODERS))
    parser.add_argument("--dataset", choices=["bing-news", "mind"], default="bing-news")
    parser.add_argument("--folder", default="MINDsmall_train", help="mind: dataset folder under RECFORGE_DATA_DIR")
    args = parser.parse_args(argv)
    ensure_registered()
    item_id = "news_id"
    data = data_section(args.dataset, args.folder)
    variants = {name: Variant(name, news_config(data, item_id, enc)) for name, enc in TEXT_ENCODERS.items()}
    label = args.dataset if args.dataset == "bing-news" else f"MIND ({args.folder})"
    table = run_table(f"News click prediction, {label}: attention-fusion + CTR head", f"case-news-{args.dataset}",
                      pick(variants, args.variants), METRICS, [2024 + i for i in range(args.seeds)],
                      args.overrides, device=args.device, extra=grouped)
    report([table], args.json)
    return [table]


if __name__ == "__main__":
    run_cli(main)
