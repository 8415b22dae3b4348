"""How much cold-valid AUC could MiniLM text add to the cold-item DeepFM without text, at best?

Run ``python -m examples.coldstart_headroom MODEL`` with MODEL a trained
``examples/configs/ml100k-coldstart-deepfm.yaml`` run (``recforge train ... --set
data.split.seed=S --set train.seed=S``; the split is read from the run's config). On that split's
**cold-valid** rows (never the test split) it adds to the model's logit one extra per-row term and
reports the cold-valid AUC, with the term's scale chosen on cold-valid itself (so every figure
is an optimistic upper bound for that kind of text use):

* **oracle**: each cold-valid item's own logit offset, fitted (with a N(0, 0.5^2) prior) on the
  very rows it is scored on: what perfect knowledge of a cold film's appeal beyond the model
  would give;
* **text appeal**: a film's user-debiased like-rate predicted from its MiniLM vector by the
  ridge of :mod:`examples.coldstart_probe` (fitted on the training films' residual after
  genres + year), for each template;
* **personal text neighbours**: the user's own debiased training labels on the ``k`` films
  whose MiniLM vectors are nearest the cold film (softmax weights at temperature ``tau``),
  i.e. "users who liked these titles like titles like them", per template, ``k`` and ``tau``.

The text rows say how much of the oracle's headroom the text's information can reach however
a model uses it in these two ways; docs/cold-start.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from examples.coldstart_probe import (
    TEMPLATES,
    cross_validated,
    item_table,
    ridge_predict,
    text_vectors,
)

SCALES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
NEIGHBOURS = ((10, 0.1), (30, 0.05), (30, 0.1), (100, 0.1))
ORACLE_PRIOR_VARIANCE = 0.25


def best_offset_auc(labels: np.ndarray, logits: np.ndarray, term: np.ndarray) -> tuple[float, float]:
    """The highest AUC of ``logits + scale * term`` over :data:`SCALES`, and that scale."""
    from recforge.core.metrics import auc_score

    return max((auc_score(labels, logits + scale * term), scale) for scale in SCALES)


def oracle_offsets(labels: np.ndarray, logits: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Per-row logit offset of the row's item, fitted to the rows themselves (MAP, Gaussian prior)."""
    _, inverse = np.unique(items, return_inverse=True)
    offset = np.zeros(inverse.max() + 1)
    for _ in range(50):  # Newton steps on the per-item penalised log likelihood
        q = 1.0 / (1.0 + np.exp(-(logits + offset[inverse])))
        grad = np.bincount(inverse, labels - q) - offset / ORACLE_PRIOR_VARIANCE
        offset += grad / (np.bincount(inverse, q * (1 - q)) + 1.0 / ORACLE_PRIOR_VARIANCE)
    return offset[inverse]


def text_appeal(seed: int, meta: Any, vectors: dict[Any, np.ndarray], items: np.ndarray) -> np.ndarray:
    """Each row's film's predicted debiased like-rate beyond genres + year, from its text vector
    (ridges fitted on the split's training films only, alphas by cross-validation)."""
    table, _ = item_table(5, seed)
    ids, target = table.index.to_numpy(), table["mean"].to_numpy()
    weight = table["size"].to_numpy(np.float64) / table["size"].mean()
    genres = meta["genres"].astype(str).str.get_dummies(sep="|")
    years = meta["release_year"].astype(str).str.get_dummies()
    onehots = np.hstack([genres.loc[ids].to_numpy(np.float64), years.loc[ids].to_numpy(np.float64)])
    folds = np.random.default_rng(seed).permutation(len(ids)) % 5
    _, base_alpha = cross_validated(onehots, target, weight, folds)
    residual = target - ridge_predict(onehots, target, weight, base_alpha, onehots)
    text = np.stack([vectors[i] for i in ids])
    _, alpha = cross_validated(text, residual, weight, folds)
    films = np.unique(items)
    predicted = dict(zip(films, ridge_predict(text, residual, weight, alpha, np.stack([vectors[i] for i in films])), strict=True))
    return np.array([predicted[i] for i in items])


def personal_neighbours(train: Any, rows: Any, vectors: dict[Any, np.ndarray], k: int, tau: float) -> np.ndarray:
    """Per row, the softmax(similarity / tau)-weighted mean of the user's debiased training labels
    on the ``k`` training films nearest the row's film in text space (0 for a user with none)."""
    centred = train["label"] - train.groupby("user_id")["label"].transform("mean")
    history = {user: (np.stack([vectors[i] for i in group["item_id"]]), centred.loc[group.index].to_numpy())
               for user, group in train.groupby("user_id")}
    out = np.zeros(len(rows))
    for row, (user, item) in enumerate(zip(rows["user_id"], rows["item_id"], strict=True)):
        if user not in history:
            continue
        films, labels = history[user]
        similarity = films @ vectors[item]
        top = np.argsort(-similarity)[:k]
        weight = np.exp((similarity[top] - similarity[top].max()) / tau)
        out[row] = float(weight @ labels[top] / weight.sum())
    return out


def scored(loaded: Any, rows: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and the model's logits on ``rows`` (raw ratings rows of one split)."""
    from recforge.core.experiment import predict_table
    from recforge.core.model_api import fields_read

    table = loaded.data.featuremap.transform(rows, source=source, scoring=True, reads=fields_read(loaded.model))
    probs = predict_table(loaded.model, table).double().numpy().clip(1e-7, 1 - 1e-7)
    return rows["label"].to_numpy(np.float64), np.log(probs / (1 - probs))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from recforge.core.data.splits import cold_split
    from recforge.core.metrics import auc_score
    from recforge.plugins.datasets.movielens_100k import MovieLens100K
    from recforge.services.model_refs import open_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a trained ml100k-coldstart-deepfm(-text) run (id, name@stage or folder)")
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the MiniLM vectors between runs")
    parser.add_argument("--report-test", action="store_true",
                        help="also report, on the cold test items, the model alone and with the personal-neighbour "
                             "setting and scale that scored best on cold-valid (test read once, nothing chosen on it)")
    args = parser.parse_args(argv)
    _, loaded = open_model(args.model)
    split = loaded.config["data"]["split"]
    seed = int(split["seed"])
    print(f"split seed {seed}: preparing cold-valid rows and text vectors", file=sys.stderr, flush=True)
    raw = MovieLens100K().load(MovieLens100K.Params())
    frame, meta = raw.frames["all"], raw.item_meta
    parts = cold_split(frame["item_id"].to_numpy(), split["cold_fraction"], split["valid_fraction"], seed, "cold")
    train, valid = frame.iloc[parts["train"]], frame.iloc[parts["valid"]].reset_index(drop=True)
    labels, logits = scored(loaded, valid, "cold-valid")
    items = valid["item_id"].to_numpy()
    base = auc_score(labels, logits)
    rows: dict[str, float] = {"model": base,
                              "oracle item offset": best_offset_auc(labels, logits, oracle_offsets(labels, logits, items))[0]}
    best: tuple[float, float, str, int, float] | None = None  # valid AUC, scale, template, k, tau
    for name in TEMPLATES:
        vectors = text_vectors(meta, name, args.cache)
        rows[f"text appeal ({name})"] = best_offset_auc(labels, logits, text_appeal(seed, meta, vectors, items))[0]
        for k, tau in NEIGHBOURS:
            print(f"  personal neighbours {name} k={k} tau={tau}", file=sys.stderr, flush=True)
            value, scale = best_offset_auc(labels, logits, personal_neighbours(train, valid, vectors, k, tau))
            rows[f"personal text neighbours ({name}, k={k}, tau={tau})"] = value
            if best is None or value > best[0]:
                best = (value, scale, name, k, tau)
    print(f"cold-valid of split {seed}: {valid['item_id'].nunique()} films, {len(valid)} rows\n"
          "| added term (scale chosen on cold-valid itself) | cold-valid AUC | lift |\n|---|---:|---:|")
    for name, value in rows.items():
        print(f"| {name} | {value:.4f} | {value - base:+.4f} |")
    report: dict[str, Any] = {"seed": seed, "auc": rows}
    if args.report_test and best is not None:
        _, scale, name, k, tau = best
        test = frame.iloc[parts["test"]].reset_index(drop=True)
        test_labels, test_logits = scored(loaded, test, "cold-test")
        term = personal_neighbours(train, test, text_vectors(meta, name, args.cache), k, tau)
        report["test"] = {"setting": {"template": name, "k": k, "tau": tau, "scale": scale},
                          "model": auc_score(test_labels, test_logits),
                          "model + personal text neighbours": auc_score(test_labels, test_logits + scale * term)}
        print(f"cold test items of split {seed} ({test['item_id'].nunique()} films; setting from cold-valid: {name}, "
              f"k={k}, tau={tau}, scale {scale}): model {report['test']['model']:.4f}, "
              f"+ personal text neighbours {report['test']['model + personal text neighbours']:.4f}")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    from examples.ecommerce.harness import run_cli

    run_cli(main)
