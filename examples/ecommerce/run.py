"""E-commerce case study: next-purchase retrieval on Amazon 2018 next-item rows, and
rating-as-click CTR on small Amazon 2018 review sets, with and without product text.

Run ``python -m examples.ecommerce.run`` (3 seeds, every variant; see ``--help``). Any other
Amazon 2018 category in the same formats runs with ``--category`` (next-item rows in
``amazon-<first word>-2018-seq``) and ``--ctr-categories`` (reviews + meta in
``amazon-<category>-2018``), without code changes.
"""

from __future__ import annotations

import copy
from typing import Any

from examples.ecommerce.harness import Table, Variant, base_parser, pick, report, run_cli, run_table

SEQ_METRICS = ["recall@10", "ndcg@10", "mrr@10"]
CTR_METRICS = ["auc", "logloss"]
#: item text: title and brand (the catalogue's categories are empty in this release)
ITEM_TEXT = "{title}. Brand: {brand}"
LM = {"pooling": "mean", "max_length": 64, "dropout": 0.1, "batch_size": 128}
TEXT_ENCODERS: dict[str, dict[str, Any] | None] = {
    "id-only": None,
    "text-hash": {"name": "text-hash", "params": {"buckets": 50_000}},
    "text-lm-frozen": {"name": "text-lm", "params": dict(LM)},
    "text-lm-finetune": {"name": "text-lm", "params": {**LM, "max_length": 32, "mode": "finetune",
                                                       "finetune_layers": 1, "lm_lr": 3e-5}},
}
MLP = {"name": "mlp", "params": {"hidden_units": [128], "dropout": 0.1}}


def next_item_config(category: str, text: dict[str, Any] | None) -> dict[str, Any]:
    """Two-tower retrieval over next-item rows: the query tower reads the row's purchase history
    (a sequence over the item vocabulary, sharing the item-id table, plus the history's titles as
    text), the item tower the item id plus its title and brand; in-batch sampled softmax with
    logQ correction; full ranking of all products per test row."""
    user_fields, item_fields = ["user_id", "history"], ["item_id"]
    encoders: dict[str, Any] = {"user_id": {"name": "categorical", "params": {"id_dropout": 0.5}},
                                "history": {"name": "sequence", "params": {"pooling": "mean"}}}
    if text is not None:
        user_fields.append("history_titles")
        item_fields.append("item_text")
        history_text = copy.deepcopy(text)
        if history_text["params"].get("mode") == "finetune":  # fine-tune the item side; history text stays frozen
            history_text["params"] = {k: v for k, v in history_text["params"].items()
                                      if k not in ("mode", "finetune_layers", "lm_lr")}
        encoders.update({"item_text": copy.deepcopy(text), "history_titles": history_text})
    finetune = text is not None and text["params"].get("mode") == "finetune"
    return {
        "data": {"recipe": "amazon-seq", "params": {"category": category},
                 "fields": [{"name": "item_text", "kind": "text", "role": "item", "template": ITEM_TEXT}]},
        "model": {"embedding_dim": 64, "encoders": encoders,
                  "towers": {"user": {"fields": user_fields, "interaction": MLP},
                             "item": {"fields": item_fields, "interaction": MLP}},
                  "ranker": {"name": "two-tower", "params": {"loss": "softmax", "temperature": 0.05,
                                                             "normalize": True, "row_queries": True}}},
        "train": {"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 3 if finetune else 40,
                  "patience": 1 if finetune else 4, "monitor": "valid.ndcg@10", "monitor_mode": "max", "threads": 1},
        "eval": {"protocol": "rows", "metrics": list(SEQ_METRICS)},
    }


def ctr_config(category: str, text: dict[str, Any] | None) -> dict[str, Any]:
    """Rating-as-click CTR (rating >= 4 is a click) on one category's reviews: user, item,
    brand, price and categories, plus the product title as text; attention-fusion over the
    field slots and a logistic head."""
    fields = ["user_id", "item_id", "brand", "price", "category"]
    encoders: dict[str, Any] = {}
    if text is not None:
        fields.append("item_text")
        encoders["item_text"] = copy.deepcopy(text)
    return {
        "data": {"recipe": "amazon-2018", "params": {"category": category, "threshold": 4.0, "missing_meta": "keep"},
                 "fields": [{"name": "item_text", "kind": "text", "role": "item", "template": ITEM_TEXT}],
                 "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 2024}},
        "model": {"embedding_dim": 32, "fields": fields, "encoders": encoders,
                  "interaction": {"name": "attention-fusion", "params": {"hidden_units": [64], "dropout": 0.1}},
                  "ranker": "ctr"},
        "train": {"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 30, "patience": 3,
                  "monitor": "valid.auc", "threads": 1, "weight_decay": 1e-5},
        "eval": {"metrics": list(CTR_METRICS)},
    }


def main(argv: list[str] | None = None) -> list[Table]:
    parser = base_parser(__doc__.splitlines()[0], list(TEXT_ENCODERS))
    parser.add_argument("--category", default="Office_Products", help="next-item rows category")
    parser.add_argument("--ctr-categories", default="Gift_Cards,Magazine_Subscriptions",
                        help="comma list of review categories for the CTR task ('' = skip)")
    parser.add_argument("--ctr-variants", default="id-only,text-hash,text-lm-frozen",
                        help="variants of the CTR task ('' = skip)")
    args = parser.parse_args(argv)
    seeds = [2024 + i for i in range(args.seeds)]
    tables = []
    if args.variants:
        seq = {name: Variant(name, next_item_config(args.category, enc)) for name, enc in TEXT_ENCODERS.items()}
        tables.append(run_table(f"Next purchase, Amazon 2018 {args.category}: full ranking of all products",
                                f"case-ecommerce-{args.category}", pick(seq, args.variants), SEQ_METRICS, seeds,
                                args.overrides, device=args.device))
    for category in [c.strip() for c in args.ctr_categories.split(",") if c.strip()]:
        if not args.ctr_variants:
            break
        ctr = {name: Variant(name, ctr_config(category, enc)) for name, enc in TEXT_ENCODERS.items()}
        tables.append(run_table(f"Rating-as-click CTR, Amazon 2018 {category}", f"case-ctr-{category}",
                                pick(ctr, args.ctr_variants), CTR_METRICS, seeds, args.overrides, device=args.device))
    report(tables, args.json)
    return tables


if __name__ == "__main__":
    run_cli(main)
