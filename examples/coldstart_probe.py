"""How much does MiniLM text say about a film's appeal beyond its genres and year? (training items only)

Run ``python -m examples.coldstart_probe`` (see ``--help``). The cold-start bar asks text to lift
cold-item AUC; for a cold item the model has the user, the genres, the release year and the text,
so text can only add what genres and year do not already say about the item. This probe
measures that directly, on the *training* items of each cold split (valid and test rows are not
read), with no recommender in the way:

* target: each training item's user-debiased like-rate, the mean over its training ratings of
  ``label - the rater's mean label`` (items with at least ``--min-ratings`` ratings, weighted
  by their count);
* five-fold cross-validated weighted ridge over the items: genres + release year, then the
  MiniLM vector of each text template on the out-of-fold residual of that, and the text alone;
  each ridge's alpha is the best of the same grid (by cross-validated R^2).

A text R^2 on the residual at or below 0 means the text predicts nothing about unseen items'
appeal that genres and year do not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

TEMPLATES = {"title": "{title}", "title+genres": "{title}. Genres: {genres}"}
#: ridge penalties, relative to item weights normalised to mean 1; the largest shrinks the text
#: block to (almost) nothing, so "text on the residual" can always fall back to "no text"
ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 1e4, 1e5)


def ridge_predict(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float, x_new: np.ndarray) -> np.ndarray:
    """Weighted ridge with an unpenalised intercept, fitted on ``(x, y, w)``, applied to ``x_new``."""
    mx, my = np.average(x, axis=0, weights=w), np.average(y, weights=w)
    xc = x - mx
    beta = np.linalg.solve(xc.T @ (xc * w[:, None]) + alpha * np.eye(x.shape[1]), xc.T @ (w * (y - my)))
    return (x_new - mx) @ beta + my


def cross_validated(x: np.ndarray, y: np.ndarray, w: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, float]:
    """Out-of-fold predictions of the best alpha of :data:`ALPHAS`, and that alpha."""
    best: tuple[float, np.ndarray, float] | None = None
    for alpha in ALPHAS:
        pred = np.zeros(len(y))
        for fold in np.unique(folds):
            held = folds == fold
            pred[held] = ridge_predict(x[~held], y[~held], w[~held], alpha, x[held])
        error = float(np.sum(w * (y - pred) ** 2))
        if best is None or error < best[0]:
            best = (error, pred, alpha)
    assert best is not None
    return best[1], best[2]


def r_squared(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> float:
    """Weighted R^2 of ``pred`` against ``y``."""
    return 1.0 - float(np.sum(w * (y - pred) ** 2) / np.sum(w * (y - np.average(y, weights=w)) ** 2))


def item_table(min_ratings: int, seed: int) -> tuple[Any, Any]:
    """The training items of cold split ``seed`` with their debiased like-rate and count; the item metadata."""
    from recforge.core.data.splits import cold_split
    from recforge.plugins.datasets.movielens_100k import MovieLens100K

    raw = MovieLens100K().load(MovieLens100K.Params())
    frame = raw.frames["all"]
    train = frame.iloc[cold_split(frame["item_id"].to_numpy(), 0.2, 0.1, seed, "cold")["train"]]
    debiased = train["label"] - train.groupby("user_id")["label"].transform("mean")
    items = debiased.groupby(train["item_id"]).agg(["mean", "size"])
    return items[items["size"] >= min_ratings], raw.item_meta


def text_vectors(meta: Any, name: str, cache: Path | None) -> dict[Any, np.ndarray]:
    """Unit-length MiniLM vectors of template ``name`` over every item's metadata, by item id
    (the raw vectors kept in ``cache/<name>.npy`` when given, in the metadata's item order)."""
    from recforge.plugins.encoders.lm_backend import LMBackend

    file = cache / f"{name}.npy" if cache is not None else None
    if file is not None and file.exists():
        vectors = np.load(file)
    else:
        texts = [TEMPLATES[name].format(title=row.title, genres=str(row.genres).replace("|", ", "))
                 for row in meta.itertuples()]
        vectors = LMBackend().encode(texts, show_progress=True).numpy()
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            np.save(file, vectors)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return dict(zip(meta.index, vectors, strict=True))


def probe(seed: int, min_ratings: int, vectors: dict[str, dict[Any, np.ndarray]], meta: Any) -> dict[str, float]:
    """Cross-validated R^2 of genres + year, of text on their residual, and of text alone, for one split."""
    items, _ = item_table(min_ratings, seed)
    ids = items.index.to_numpy()
    y, w = items["mean"].to_numpy(), items["size"].to_numpy().astype(np.float64)
    w = w / w.mean()
    genres = meta.loc[ids, "genres"].astype(str).str.get_dummies(sep="|").to_numpy(np.float64)
    years = meta.loc[ids, "release_year"].astype(str).str.get_dummies().to_numpy(np.float64)
    folds = np.random.default_rng(seed).permutation(len(ids)) % 5
    base_pred, base_alpha = cross_validated(np.hstack([genres, years]), y, w, folds)
    out = {"items": float(len(ids)), "r2 genres+year": r_squared(y, base_pred, w), "alpha genres+year": base_alpha}
    for name, by_item in vectors.items():
        text = np.stack([by_item[i] for i in ids])
        residual_pred, alpha = cross_validated(text, y - base_pred, w, folds)
        out[f"r2 +{name} on the residual"] = r_squared(y, base_pred + residual_pred, w)
        out[f"alpha +{name}"] = alpha
        out[f"r2 {name} alone"] = r_squared(y, cross_validated(text, y, w, folds)[0], w)
    return out


def main(argv: list[str] | None = None) -> dict[int, dict[str, float]]:
    from recforge.plugins.datasets.movielens_100k import MovieLens100K

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="11,12,13", help="comma list of cold split seeds")
    parser.add_argument("--min-ratings", type=int, default=5, help="training ratings an item needs to count")
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the MiniLM vectors between runs")
    args = parser.parse_args(argv)
    meta = MovieLens100K().load(MovieLens100K.Params()).item_meta
    vectors = {name: text_vectors(meta, name, args.cache) for name in TEMPLATES}
    results = {seed: probe(seed, args.min_ratings, vectors, meta) for seed in (int(s) for s in args.seeds.split(","))}
    keys = [k for k in next(iter(results.values())) if k.startswith("r2")]
    print("| split | items | " + " | ".join(keys) + " |\n|---|---:|" + "---:|" * len(keys))
    for seed, row in results.items():
        print(f"| {seed} | {row['items']:.0f} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    from examples.ecommerce.harness import run_cli

    run_cli(main)
