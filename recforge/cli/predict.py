"""``recforge predict|recommend|similar``: serve a run's saved model (nothing else needed)."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from recforge.cli._output import emit_json, emit_table
from recforge.core.errors import ConfigError
from recforge.core.experiment import predict_table
from recforge.core.recommend import Recommender
from recforge.core.saved_model import LoadedModel
from recforge.services.model_refs import open_model

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document last.")


def _load(model: str) -> tuple[dict, LoadedModel]:
    """Load a run id, ``name@stage``, ``name/version`` or saved-model folder (services.model_refs);
    returns the JSON head naming it (``run_id``, ``model``) and the loaded model."""
    ref, loaded = open_model(model)
    return {"run_id": ref.run_id, "model": ref.label}, loaded


def _rows(title: str, rows: list[dict], as_json: bool, head: dict) -> None:
    if as_json:
        emit_json({**head, "items": rows})
        return
    cols = ["rank", "item", *[c for c in ("title",) if rows and c in rows[0]], "score"]
    emit_table(title, cols, [[r.get(c) if c != "score" else f"{r[c]:.4f}" for c in cols] for r in rows])


@click.command("predict")
@click.argument("run_id", metavar="MODEL")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write FILE's rows plus a `prediction` column here (CSV/TSV/Parquet/JSONL by name).")
@json_option
def predict(run_id: str, file: Path, out: Path | None, as_json: bool) -> None:
    """Score every row of FILE (same columns as the training data) with MODEL (a run id, name@stage, name/version or saved-model folder)."""
    from recforge.core.data.readers import read_table
    from recforge.core.model_api import fields_read

    head, loaded = _load(run_id)
    frame = read_table(file, flat=True)
    table = loaded.data.featuremap.transform(frame, source=str(file), scoring=True, reads=fields_read(loaded.model))
    preds = predict_table(loaded.model, table).numpy()
    frame = frame.assign(prediction=preds)
    if out is not None:
        _write(frame, out)
    if as_json:
        emit_json({**head, "rows": len(frame), "out": str(out) if out else None,
                   "predictions": preds.tolist() if out is None else None})
    elif out is not None:
        click.echo(f"wrote {len(frame)} predictions to {out}")
    else:
        click.echo(frame.to_csv(index=False), nl=False)


def _write(frame, out: Path) -> None:  # noqa: ANN001 - pandas frame
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".jsonl":
        frame.to_json(out, orient="records", lines=True, force_ascii=False)
    elif suffix in (".csv", ".tsv"):
        frame.to_csv(out, index=False, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise ConfigError(f"cannot write predictions to '{out.name}'", fix="use a .csv, .tsv, .parquet or .jsonl name")


@click.command("recommend")
@click.argument("run_id", metavar="MODEL")
@click.option("--user", help="Raw user id to recommend for.")
@click.option("--all-users", is_flag=True, help="Top-K for every user, written to --out.")
@click.option("-k", "k", default=10, show_default=True, help="How many items.")
@click.option("--exclude-seen", is_flag=True, help="Leave out the user's training items.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output .csv or .jsonl (--all-users).")
@json_option
def recommend(run_id: str, user: str | None, all_users: bool, k: int, exclude_seen: bool, out: Path | None,
              as_json: bool) -> None:
    """Top-K items for one user (--user) or for everyone (--all-users --out FILE)."""
    if all_users == (user is not None):
        raise ConfigError("pass exactly one of --user U and --all-users", fix="e.g. recommend RUN --user 196 -k 10")
    if all_users and out is None:
        raise ConfigError("--all-users needs --out FILE", fix="add --out recs.csv (or .jsonl)")
    head, loaded = _load(run_id)
    rec = Recommender(loaded)
    with torch.no_grad():
        if all_users:
            n = rec.recommend_all(out, k=k, exclude_seen=exclude_seen)  # type: ignore[arg-type]
            if as_json:
                emit_json({**head, "users": n, "k": k, "out": str(out)})
            else:
                click.echo(f"wrote top-{k} for {n} users to {out}")
            return
        rows = rec.recommend(user, k=k, exclude_seen=exclude_seen)
    _rows(f"top-{k} for user {user}", rows, as_json, {**head, "user": user, "k": k})


@click.command("similar")
@click.argument("run_id", metavar="MODEL")
@click.option("--item", required=True, help="Raw item id.")
@click.option("-k", "k", default=10, show_default=True, help="How many items.")
@click.option("--by", type=click.Choice(["learned", "text"]), default="learned", show_default=True,
              help="Compare learned item vectors or text vectors.")
@json_option
def similar(run_id: str, item: str, k: int, by: str, as_json: bool) -> None:
    """The K items closest to ITEM (cosine over the model's item vectors)."""
    head, loaded = _load(run_id)
    rows = Recommender(loaded).similar(item, k=k, by=by)
    _rows(f"{k} items most similar to {item} ({by} vectors)", rows, as_json, {**head, "item": item, "k": k})


COMMANDS = [predict, recommend, similar]
