"""Neighbour quality of ``recforge similar --by text``: do a film's nearest titles share its genre?

Usage: ``python -m examples.text_neighbours RUN [--label genres] [-k 10]`` on a run whose model
has an item text field (e.g. ``examples/configs/ml100k-ctr-deepfm-title.yaml``). Prints, for the
language model's own vectors (what ``similar --by text`` compares) and for the model's projected
text vectors: the share of each item's k nearest neighbours sharing a label with it, averaged
over all items; the same share for random pairs; and the largest cosine between two items
sharing no label.
"""

from __future__ import annotations

import argparse
import json

from recforge.core.text_neighbours import item_text_vectors, neighbour_quality


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    from recforge.core.errors import ConfigError
    from recforge.core.saved_model import load_model
    from recforge.core.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=int, help="run id")
    parser.add_argument("--label", default="genres", help="item column of label sets, '|'-separated")
    parser.add_argument("-k", type=int, default=10, help="neighbours per item")
    args = parser.parse_args(argv)
    with Store.open() as store:
        loaded = load_model(store.run_dir(args.run) / "model")
    if args.label not in loaded.item_meta:
        raise ConfigError(f"the model's items have no '{args.label}' column",
                          fix=f"use one of {', '.join(loaded.item_meta)}")
    labels = [set(str(v).split("|")) if v else set() for v in loaded.item_meta[args.label]]
    out = {"language-model vectors (similar --by text)": neighbour_quality(item_text_vectors(loaded.model), labels, args.k)}
    try:
        out["projected text vectors (model)"] = neighbour_quality(loaded.model.item_vectors(kinds=("text",)), labels, args.k)
    except (NotImplementedError, TypeError):
        pass
    for name, q in out.items():
        print(f"{name}: {args.k}-NN sharing a {args.label[:-1] if args.label.endswith('s') else args.label} "
              f"{q['neighbour_share']:.3f} vs random pairs {q['random_share']:.3f}; "
              f"max cosine of unrelated items {q['max_unrelated_cosine']:.4f}, mean cosine {q['mean_cosine']:.3f}")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    from examples.ecommerce.harness import run_cli

    run_cli(main)
