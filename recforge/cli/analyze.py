"""``recforge analyze RUN``: feature-interaction analysis of a trained run."""

from __future__ import annotations

from typing import Any

import click

from recforge.cli._output import emit_json, emit_table


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def render(report: dict[str, Any], top: int = 10) -> None:
    """Terminal tables: field importance, top pairs, information gain, text vs ids, layer views."""
    metric = report["metric"]
    click.echo(f"run {report.get('run_id', '?')} · split {report['split']} · {report['rows']} rows · "
               f"{metric} {_f(report['baseline'])} · {report['repeats']} repeats")
    imp = sorted(report["importance"].items(), key=lambda kv: -kv[1]["mean"])
    emit_table(f"field importance ({metric} drop when shuffled)", ["field", "drop", "95% CI"],
               [(k, _f(v["mean"]), f"[{_f(v['low'])}, {_f(v['high'])}]") for k, v in imp])
    pairs = report.get("pairs")
    if pairs:
        h2 = {(p["a"], p["b"]): p["h2"] for p in pairs["friedman_h"]}
        emit_table("top field pairs (interaction = joint drop - single drops; <0 synergy, >0 redundancy)",
                   ["pair", "interaction", "95% CI", "joint drop", "Friedman H^2"],
                   [(f"{p['a']} x {p['b']}", _f(p["interaction"]["mean"]),
                     f"[{_f(p['interaction']['low'])}, {_f(p['interaction']['high'])}]", _f(p["joint"]),
                     _f(h2.get((p["a"], p["b"])))) for p in pairs["permutation"][:top]])
    info = report["information"]
    emit_table(f"information gain with the label (H(label) = {_f(info['label_entropy_bits'])} bits)",
               ["field", "bits", "corrected", "share of H", "values"],
               [(k, _f(v["mi_bits"]), _f(v["mi_corrected_bits"]), _f(v["ratio"], 3), v["values"])
                for k, v in info["fields"].items()])
    tv = report.get("text_vs_ids", {})
    if "warm" in tv:
        rows = []
        for part in ("warm", "cold"):
            r = tv[part]
            if "skipped" in r:
                rows.append((part, r["rows"], "-", "-", "-", r["skipped"]))
            else:
                rows.append((part, r["rows"], *(_f(r.get(g, {}).get("mean")) for g in ("text", "ids", "other")),
                             _f(r["text_share"], 3)))
        emit_table(f"text vs ids ({metric} drop per group)", ["items", "rows", "text", "ids", "other", "text share"], rows)
    elif tv:
        click.echo(f"text vs ids: {tv.get('skipped')}")
    views = report.get("model_views", {})
    if views:
        emit_table("model views (averaged over the data)", ["layer", "kind", "slots", "distribution"],
                   [(k.split(":")[0], v["kind"], len(v["fields"]),
                    "n/a" if v["is_distribution"] is None else ("yes" if v["is_distribution"] else "no")) for k, v in views.items()])


@click.command("analyze")
@click.argument("model", metavar="MODEL")
@click.option("--split", default="valid", show_default=True, help="Data split to analyse.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), help="Also write the JSON, the PNGs and learning curves here.")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="Shuffles per field/pair.")
@click.option("--sample", default=100, show_default=True, type=click.IntRange(2),
              help="Rows for Friedman's H (sample^2 predictions per pair).")
@click.option("--max-rows", default=20000, show_default=True, type=click.IntRange(0),
              help="Rows sampled for the permutation views (0 = all).")
@click.option("--metric", default=None, help="auc, logloss, rmse or mae (default: AUC for 0/1 labels, else RMSE).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1), help="Seed of samples and permutations.")
def analyze_command(model: str, split: str, as_json: bool, plot_dir: str | None, repeats: int, sample: int,
                    max_rows: int, metric: str | None, seed: int) -> None:
    """Which fields and field pairs drive MODEL's predictions; stores analysis.json and PNGs."""
    from recforge.core.analysis.run import analyze_run
    from recforge.core.store import Store
    from recforge.services.curves import learning_curves
    from recforge.services.model_refs import resolve_run_id
    from recforge.services.runs import metric_series

    run_id = resolve_run_id(model)  # run id, name@stage, name/version or the run's model folder
    with Store.open() as store:
        report, written = analyze_run(store, run_id, split, plot_dir=plot_dir, repeats=repeats, sample=sample,
                                      max_rows=max_rows or None, metric=metric, seed=seed)
        series = metric_series(store.get_metrics(run_id))
    if plot_dir:
        learning_curves(series, plot_dir, title=f"run {run_id}")
    if as_json:
        emit_json(report)
        return
    render(report)
    click.echo(f"saved {len(written)} files to {written[0].parent}" + (f" and {plot_dir}" if plot_dir else ""))
    if plot_dir:
        click.echo(f"saved learning curves (curve_*.png) to {plot_dir}")


COMMANDS = [analyze_command]
