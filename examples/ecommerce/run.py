"""E-commerce case study: next-purchase retrieval on Amazon 2018 next-item rows, and
rating-as-click CTR on small Amazon 2018 review sets, with and without product text.

Every variant is a YAML file in ``examples/ecommerce/configs`` that ``recforge train`` takes as
is (``next-<variant>.yaml``, ``ctr-<variant>.yaml``); this script runs them over seeds and
tabulates the test metrics. Run ``python -m examples.ecommerce.run`` (3 seeds, every variant;
see ``--help``). Any other
Amazon 2018 category in the same formats runs with ``--category`` (next-item rows in
``amazon-<first word>-2018-seq``) and ``--ctr-categories`` (reviews + meta in
``amazon-<category>-2018``), without code changes.
"""

from __future__ import annotations

from pathlib import Path

from examples.ecommerce.harness import Table, Variant, base_parser, pick, report, run_cli, run_table

SEQ_METRICS = ["recall@10", "ndcg@10", "mrr@10"]
CTR_METRICS = ["auc", "logloss"]
CONFIGS = Path(__file__).resolve().parent / "configs"
#: next-purchase variants: ``configs/next-<name>.yaml``
SEQ_VARIANTS = ["popular", "two-tower-id", "sasrec-id", "gru4rec-id", "two-tower-text-hash", "two-tower-text-lm-frozen",
                "two-tower-text-lm-finetune", "sasrec-text", "sasrec-text-only", "gru4rec-text-only"]
#: rating-as-click variants: ``configs/ctr-<name>.yaml``
CTR_VARIANTS = ["id-only", "text-hash", "text-lm-frozen"]


def variant(kind: str, name: str, overrides: list[str]) -> Variant:
    """The YAML config ``configs/<kind>-<name>.yaml`` (what ``recforge train`` takes), with overrides."""
    from recforge.core.config import load_config

    return Variant(name, load_config(CONFIGS / f"{kind}-{name}.yaml", overrides))


def main(argv: list[str] | None = None) -> list[Table]:
    parser = base_parser(__doc__.splitlines()[0], SEQ_VARIANTS)
    parser.add_argument("--category", default="Office_Products", help="next-item rows category")
    parser.add_argument("--ctr-categories", default="Gift_Cards,Magazine_Subscriptions",
                        help="comma list of review categories for the CTR task ('' = skip)")
    parser.add_argument("--ctr-variants", default=",".join(CTR_VARIANTS), help="variants of the CTR task ('' = skip)")
    args = parser.parse_args(argv)
    seeds = [args.first_seed + i for i in range(args.seeds)]
    tables = []
    if args.variants:
        seq = {name: variant("next", name, [f"data.params.category={args.category}"]) for name in SEQ_VARIANTS}
        tables.append(run_table(f"Next purchase, Amazon 2018 {args.category}: full ranking of all products",
                                f"case-ecommerce-{args.category}", pick(seq, args.variants), SEQ_METRICS, seeds,
                                args.overrides, device=args.device))
    for category in [c.strip() for c in args.ctr_categories.split(",") if c.strip()]:
        if not args.ctr_variants:
            break
        ctr = {name: variant("ctr", name, [f"data.params.category={category}"]) for name in CTR_VARIANTS}
        tables.append(run_table(f"Rating-as-click CTR, Amazon 2018 {category}", f"case-ctr-{category}",
                                pick(ctr, args.ctr_variants), CTR_METRICS, seeds, args.overrides, device=args.device))
    report(tables, args.json)
    return tables


if __name__ == "__main__":
    run_cli(main)
